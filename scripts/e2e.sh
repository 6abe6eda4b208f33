#!/usr/bin/env bash
# End-to-end in real containers: the repository's Dockerfile, docker-compose.yml and Kubernetes
# manifests (under podman kube play). Needs root: it installs Debian's docker.io, docker-compose,
# debootstrap and podman, starts dockerd, and builds a local debian:bookworm-slim (no image can be
# pulled here). Tears down what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

missing=()
for pkg in docker.io docker-compose debootstrap podman catatonit runc; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# podman's default rlimits are refused on this kind of machine.
mkdir -p /etc/containers
grep -q default_ulimits /etc/containers/containers.conf 2>/dev/null || cat >> /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
CONF

work=/var/tmp/dbinit-e2e
mkdir -p $work
started_dockerd=
if ! docker info >/dev/null 2>&1; then
  dockerd --iptables=false >$work/dockerd.log 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
cleanup() { [ -z "$started_dockerd" ] || kill "$started_dockerd"; }
trap cleanup EXIT

if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  echo "e2e: building debian:bookworm-slim with debootstrap (about a minute)"
  rm -rf $work/rootfs
  debootstrap --variant=minbase bookworm $work/rootfs http://deb.debian.org/debian >$work/debootstrap.log
  tar -C $work/rootfs -c . | docker import - debian:bookworm-slim >/dev/null
fi
# The build stage's pip goes through this machine's TLS-inspecting proxy: trust its CA.
cp /usr/local/share/ca-certificates/*.crt certs/ 2>/dev/null || true

DBINIT_E2E=1 .venv/bin/pytest -q tests/e2e "$@"
