# The stream image: `hybridstream run` (legacy REST poller or hybrid stream, by HYBRID_MODE)
# and `hybridstream simulator` (the local Bybit v5 simulator) from one image.
#
#   docker build -t hybridstream/stream .                      # with internet (PyPI)
#   bash hack/images/build.sh                                    # offline, local Debian base
#
# Runs as a non-root UID and writes nothing outside /tmp, so it works with
# readOnlyRootFilesystem: true plus an emptyDir on /tmp.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# Offline builds pass "--no-index --find-links=/src/requirements/wheels" (wheels built on
# the host by hack/images/build.sh, since containers here cannot reach PyPI).
ARG PIP_ARGS=""
COPY pyproject.toml README.md /src/
COPY requirements/ /src/requirements/
COPY stream/ /src/stream/
COPY operator/ /src/operator/
# The lock file pins the whole tree (dev tools too) and is used as constraints: only the
# runtime dependencies get installed, at the locked versions.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_ARGS} \
      -c /src/requirements/lock.txt /src \
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
