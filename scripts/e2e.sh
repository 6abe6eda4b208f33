#!/usr/bin/env bash
# End-to-end in real containers: the repository's Dockerfile, docker-compose.yml and Kubernetes
# manifests (under podman kube play). Needs root: it installs Debian's docker.io, docker-compose,
# debootstrap and podman, starts dockerd, and builds local Debian base images (no image can be
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

# Debian's own slim images, made here: trixie is the image's base, bookworm the stand-ins'.
for release in trixie bookworm; do
  docker image inspect debian:$release-slim >/dev/null 2>&1 && continue
  echo "e2e: building debian:$release-slim with debootstrap (under a minute)"
  rm -rf $work/rootfs
  debootstrap --variant=minbase $release $work/rootfs http://deb.debian.org/debian >$work/debootstrap.log
  # As in Debian's images: the release, its updates and its security archive.
  rm -f $work/rootfs/etc/apt/sources.list
  cat > $work/rootfs/etc/apt/sources.list.d/debian.sources <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: $release $release-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $release-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  tar -C $work/rootfs -c . | docker import - debian:$release-slim >/dev/null
done
# The build stage's pip goes through this machine's TLS-inspecting proxy: trust its CA.
cp /usr/local/share/ca-certificates/*.crt certs/ 2>/dev/null || true

DBINIT_E2E=1 .venv/bin/pytest -q tests/e2e "$@"
