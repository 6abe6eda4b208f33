#!/usr/bin/env bash
# Builds the peer tools the benchmarks compare against, from the Go module proxy, into /tmp/gobin.
# (dbmate is refused by the module proxy here: 403 "This module version is not available".)
set -euo pipefail
export GOBIN=${DBINIT_PEERS:-/tmp/gobin}
go install -tags postgres github.com/golang-migrate/migrate/v4/cmd/migrate@v4.20.1
