# dbinit: wait for Neo4j, PostgreSQL and Redis, apply pending migrations, exit.
# Build: docker build --build-arg REVISION=$(git rev-parse HEAD) --build-arg SOURCE=<repository URL> -t dbinit .
#   (behind a TLS-inspecting proxy: put its CA in certs/*.crt)
# Debian 13 (trixie): security support until 2028, LTS until mid-2030 (README, "The image").
ARG BASE_IMAGE=debian:trixie-slim
# The release; the build fails unless it is the package's version (pyproject.toml).
ARG VERSION=0.2.0

# What the final image holds besides /opt/dbinit: the SBOM lists exactly these packages.
FROM ${BASE_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-minimal libpython3.13-stdlib \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/*
COPY certs/ /usr/local/share/ca-certificates/extra/
RUN update-ca-certificates
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Every package from PyPI is checked against the hash in its lock file (scripts/lock.sh makes them),
# and a dependency the lock does not pin fails the build.
COPY requirements.lock requirements-build.lock /src/
RUN python3 -m venv /opt/build && /opt/build/bin/pip install --require-hashes -r /src/requirements-build.lock \
 && python3 -m venv /opt/dbinit && /opt/dbinit/bin/pip install --require-hashes -r /src/requirements.lock
COPY pyproject.toml README.md LICENSE NOTICE /src/
COPY dbinit /src/dbinit
ARG VERSION
# Trim what a run never reads (debug symbols, C sources, stubs, pip itself), then compile the
# bytecode: on a read-only root filesystem Python cannot cache it at run time.
RUN /opt/build/bin/pip wheel -q --no-deps --no-build-isolation -w /wheels /src \
 && /opt/dbinit/bin/pip install --no-deps /wheels/dbinit-*.whl \
 && built=$(/opt/dbinit/bin/python -c 'import importlib.metadata as m; print(m.version("dbinit"))') \
 && { [ "$built" = "$VERSION" ] || { echo "VERSION=$VERSION, but pyproject.toml says $built" >&2; exit 1; }; } \
 && find /opt/dbinit -name '*.so*' -type f -exec strip --strip-unneeded {} + \
 && find /opt/dbinit \( -name '*.c' -o -name '*.pyi' -o -name '__pycache__' \) -prune -exec rm -rf {} + \
 && /opt/dbinit/bin/pip uninstall -y -q pip \
 && python3 -m compileall -q -j 0 /opt/dbinit

FROM build AS sbom
COPY --from=runtime /var/lib/dpkg /runtime/var/lib/dpkg
COPY --from=runtime /etc/os-release /runtime/etc/os-release
COPY --from=runtime /usr/share/doc /runtime/usr/share/doc
COPY scripts/image_sbom.py /src/
RUN /opt/build/bin/cyclonedx-py environment --pyproject /src/pyproject.toml --output-reproducible \
      -o /src/python.cdx.json /opt/dbinit \
 && /opt/build/bin/python /src/image_sbom.py /src/python.cdx.json /runtime /src/sbom.cdx.json \
      "$(echo /opt/dbinit/lib/python3*/site-packages)"

FROM runtime
COPY --from=build /opt/dbinit /opt/dbinit
COPY --from=sbom /src/sbom.cdx.json /opt/dbinit/sbom.cdx.json
ARG BASE_IMAGE
ARG VERSION
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="dbinit" \
      org.opencontainers.image.description="Waits for Neo4j, PostgreSQL and Redis, applies pending migrations, exits." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# A numeric non-root user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
ENV DBINIT_MIGRATIONS=/migrations DBINIT_IMAGE_REVISION=${REVISION} PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/dbinit/bin:/usr/bin:/bin
WORKDIR /
ENTRYPOINT ["/opt/dbinit/bin/dbinit"]
CMD ["migrate"]
