# dbinit: wait for Neo4j, PostgreSQL and Redis, apply pending migrations, exit.
# Build: docker build -t dbinit .   (behind a TLS-inspecting proxy: put its CA in certs/*.crt)
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/*
COPY certs/ /usr/local/share/ca-certificates/extra/
RUN update-ca-certificates
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.lock /src/
RUN python3 -m venv /opt/dbinit && /opt/dbinit/bin/pip install --no-deps -r /src/requirements.lock
COPY pyproject.toml README.md /src/
COPY dbinit /src/dbinit
# Trim what a run never reads (debug symbols, C sources, stubs, pip itself), then compile the
# bytecode: on a read-only root filesystem Python cannot cache it at run time.
RUN /opt/dbinit/bin/pip install --no-deps /src \
 && find /opt/dbinit -name '*.so*' -type f -exec strip --strip-unneeded {} + \
 && find /opt/dbinit \( -name '*.c' -o -name '*.pyi' -o -name '__pycache__' \) -prune -exec rm -rf {} + \
 && /opt/dbinit/bin/pip uninstall -y pip \
 && rm -rf /opt/dbinit/lib/python3*/site-packages/setuptools* /opt/dbinit/lib/python3*/site-packages/pkg_resources \
    /opt/dbinit/lib/python3*/site-packages/_distutils_hack /opt/dbinit/lib/python3*/site-packages/distutils-precedence.pth \
 && python3 -m compileall -q -j 0 /opt/dbinit

FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-minimal libpython3.11-stdlib \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log
COPY --from=build /opt/dbinit /opt/dbinit
# A numeric non-root user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
ENV DBINIT_MIGRATIONS=/migrations PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/dbinit/bin:/usr/bin:/bin
WORKDIR /
ENTRYPOINT ["/opt/dbinit/bin/dbinit"]
CMD ["migrate"]
