# The stream image: `hybridstream run` (legacy REST poller or hybrid stream, by HYBRID_MODE)
# and `hybridstream simulator` (the local Bybit v5 simulator) from one image.
#
#   docker build -t hybridstream/stream .                      # with internet (PyPI)
#   bash hack/images/build.sh                                    # offline, local Debian base
#
# Runs as a non-root UID and writes nothing outside /tmp, so it works with
# readOnlyRootFilesystem: true plus an emptyDir on /tmp.
# The stock base is pinned by digest (the python:3.11-slim image index, linux/amd64 and
# arm64). Offline builds replace it with the local Debian base, which is built from signed
# Debian packages and pulled from nowhere (hack/base-image.sh).
ARG BASE_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${BASE_IMAGE} AS build
# Offline builds pass "--no-index --find-links=/src/requirements/wheels" (the locked files,
# downloaded on the host by hack/images/build.sh, since containers here cannot reach PyPI).
ARG PIP_ARGS=""
COPY pyproject.toml README.md /src/
COPY requirements/ /src/requirements/
COPY stream/ /src/stream/
COPY operator/ /src/operator/
# Every dependency file must match the sha256 recorded in the lock (--require-hashes); our
# own package is then built without build isolation, so nothing unhashed is fetched.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} \
      --require-hashes -r /src/requirements/tools.txt \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} \
      --require-hashes -r /src/requirements/runtime.txt \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} \
      --no-deps --no-build-isolation /src \
 && /opt/venv/bin/python -m compileall -q /opt/venv

FROM ${BASE_IMAGE}
COPY --from=build /opt/venv /opt/venv
# HOME=/tmp: libraries that write caches or config under $HOME stay off the read-only root.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["hybridstream"]
CMD ["run"]
