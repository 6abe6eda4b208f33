#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine; quick when already done.
#   Debian packages: PostgreSQL, PgBouncer and Redis servers, a JDK and Maven for the Neo4j launcher
#   Maven: Neo4j Community 5.26 (embedded, with Bolt) and the launcher jar
#   .tools/bin/helm: Helm, built from the Go module proxy (the chart's tests run helm lint/template)
#   .tools/bin/otelcol: the OpenTelemetry Collector, built from the Go module proxy (tests/otelcol)
#   .venv: dbinit with its test extras (MkDocs Material for the documentation's build among them)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v pgbouncer >/dev/null || missing+=(pgbouncer)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
[ -x /usr/bin/time ] || missing+=(time)   # bench/: peak memory of a process
command -v curl >/dev/null || missing+=(curl)   # bench/peers.sh: a jar Maven cannot resolve
command -v localedef >/dev/null || missing+=(locales)   # PostgreSQL servers that speak other languages
command -v docker-compose >/dev/null || missing+=(docker-compose)   # tests/test_docs.py: compose examples checked
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages start their own default servers; the tests start their own on free ports.
  (service postgresql stop; service redis-server stop; service pgbouncer stop) >/dev/null 2>&1 || true
fi

# The languages tests/test_postgres_languages.py has PostgreSQL speak (its lc_messages must exist).
for lang in de_DE fr_FR ja_JP ru_RU zh_CN; do
  locale -a 2>/dev/null | grep -qix "$lang.utf8" || localedef -i "$lang" -f UTF-8 "$lang.UTF-8"
done

launcher=tests/neo4j-launcher
if [ ! -f $launcher/target/neo4j-launcher-1.jar ] || [ $launcher/pom.xml -nt $launcher/target/neo4j-launcher-1.jar ] \
   || [ -n "$(find $launcher/src -newer $launcher/target/neo4j-launcher-1.jar)" ]; then
  echo "setup: resolving Neo4j from Maven Central and building the test launcher"
  mvn -q -B -f $launcher/pom.xml package -DskipTests
fi

helm_version=v3.22.0  # go install sets no version string in the binary: a stamp file names it
if [ ! -x .tools/bin/helm ] || [ ! -f .tools/helm-$helm_version ]; then
  echo "setup: building Helm $helm_version from the Go module proxy"
  PATH="$PATH:/usr/local/go/bin" GOBIN="$PWD/.tools/bin" go install "helm.sh/helm/v3/cmd/helm@$helm_version"
  touch .tools/helm-$helm_version
fi

# The OpenTelemetry Collector the telemetry tests send to (tests/otelcol: OTLP in, a JSON file out).
if [ ! -x .tools/bin/otelcol ] || [ -n "$(find tests/otelcol -newer .tools/bin/otelcol)" ]; then
  echo "setup: building the OpenTelemetry Collector from the Go module proxy"
  (cd tests/otelcol && PATH="$PATH:/usr/local/go/bin" go build -trimpath -ldflags=-s -o ../../.tools/bin/otelcol .)
fi

bench/peers.sh  # dbmate, golang-migrate, Flyway, neo4j-migrations: the benchmark's smoke test runs them

stamp=.venv/.installed
if [ ! -x .venv/bin/python ] || [ ! -f $stamp ] || [ pyproject.toml -nt $stamp ]; then
  echo "setup: creating .venv with dbinit and its test extras"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
  touch $stamp
fi
