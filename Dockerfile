# syntax=docker/dockerfile:1
# One image recipe for all seven services; pick one with the build argument SERVICE:
#   docker build --build-arg SERVICE=intake --build-arg HTTP_PORT=8001 -t compressor/intake .
# docker-compose.yml builds each service this way.
# Bases pinned to exact releases of Docker official images (python 3.11 on Debian 12 bookworm, Node 22 LTS):
# a rebuild gets the same Python and Debian release; raise the patch version to take their security fixes.

# The console's browser code from npm (signature_pad), pinned by its package-lock.json; git does not keep it.
FROM node:22.23.2-bookworm-slim AS assets
WORKDIR /console
COPY services/console/package.json services/console/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11.16-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
# Every third-party dependency, pinned with its hashes, in a layer of its own: it is the same for the
# seven services and is rebuilt only when the lock file changes.
COPY requirements.lock /src/requirements.lock
RUN /venv/bin/pip install --require-hashes --no-deps -r /src/requirements.lock
ARG SERVICE
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<intake|dispatch|maintenance|quality|reporting|feedback|telemetry|console>" >&2; exit 1; }
WORKDIR /src
COPY libs/contracts libs/contracts
COPY libs/kit libs/kit
COPY services/${SERVICE} services/${SERVICE}
# Only the console serves it; for another service the file lands outside every package and is dropped.
COPY --from=assets /console/node_modules/signature_pad/dist/signature_pad.umd.min.js services/console/src/console_service/static/vendor/
# The shared libraries and the service itself, built with the locked hatchling: nothing resolved, nothing unpinned.
RUN /venv/bin/pip install --no-deps --no-build-isolation ./libs/contracts ./libs/kit ./services/${SERVICE} \
    && /venv/bin/pip check

FROM python:3.11.16-slim-bookworm
ARG SERVICE
ARG HTTP_PORT=8000
ENV SERVICE=${SERVICE} \
    PATH=/venv/bin:$PATH \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=${HTTP_PORT} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /venv /venv
RUN python -c "import importlib; importlib.import_module('${SERVICE}_service')"
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001
WORKDIR /app
EXPOSE ${HTTP_PORT}
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HTTP_PORT'] + '/health/ready', timeout=4)"]
# exec: the service is PID 1 and gets SIGTERM directly. Its stop is bounded (uvicorn drains for 10 s, then
# each of Runtime.stop's steps takes at most STOP_STEP_SECONDS): compose's stop_grace_period is longer.
STOPSIGNAL SIGTERM
CMD ["/bin/sh", "-c", "exec python -m \"${SERVICE}_service\""]
