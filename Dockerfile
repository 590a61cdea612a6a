# The maskinporten-operator image.
#
#   docker build -t maskinporten-operator:0.1.0 .
#
# Build stage: hack/install-image puts the hash-pinned runtime dependencies and the operator into
# a virtualenv without pip (tests/image runs the same script, so the two cannot drift).
# Final stage: the same slim Python base, that virtualenv, nothing else; no pip, setuptools,
# compilers or caches. Runs as a numeric non-root user and writes nothing at run time, so it
# works on a read-only root filesystem. Both stages must use the same base image: the
# virtualenv's interpreter is the base image's /usr/local/bin/python3.11.
# PYTHON_BASE: the official image by default; the test bed passes a Python 3.11 base it builds
# from Debian packages (tests/testbed/maskinporten_testbed/node/images.py).

ARG PYTHON_BASE=python:3.11.14-slim-trixie
FROM ${PYTHON_BASE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHON=/usr/local/bin/python3.11
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/runtime.txt requirements/dev.txt requirements/
COPY operator operator
COPY hack/install-image hack/install-image
RUN sh hack/install-image /opt/maskinporten-operator

FROM ${PYTHON_BASE}
LABEL org.opencontainers.image.title="maskinporten-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps workloads supplied with Maskinporten access tokens" \
      org.opencontainers.image.licenses="MIT"
# Build tools the running operator never needs.
RUN python -m pip uninstall --yes --no-cache-dir pip setuptools wheel
COPY --from=build /opt/maskinporten-operator /opt/maskinporten-operator
ENV PATH=/opt/maskinporten-operator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    USER=maskinporten-operator
# UID 65532 has no passwd entry; kopf names its identity after $USER (getpass) at start-up.
USER 65532:65532
# 8080: Prometheus /metrics; 8081: the liveness endpoint (run --liveness http://0.0.0.0:8081/healthz).
EXPOSE 8080 8081
ENTRYPOINT ["/opt/maskinporten-operator/bin/maskinporten-operator"]
CMD ["run"]
