# syntax=docker/dockerfile:1
# One image recipe for all seven services; pick one with the build argument SERVICE:
#   docker build --build-arg SERVICE=intake --build-arg HTTP_PORT=8001 -t compressor/intake .
# docker-compose.yml builds each service this way.

# The console's browser code from npm (signature_pad), pinned by its package-lock.json; git does not keep it.
FROM node:22-slim AS assets
WORKDIR /console
COPY services/console/package.json services/console/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim AS build
ARG SERVICE
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<intake|dispatch|maintenance|quality|reporting|feedback|console>" >&2; exit 1; }
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY libs/contracts libs/contracts
COPY libs/kit libs/kit
COPY services/${SERVICE} services/${SERVICE}
# Only the console serves it; for another service the file lands outside every package and is dropped.
COPY --from=assets /console/node_modules/signature_pad/dist/signature_pad.umd.min.js services/console/src/console_service/static/vendor/
# Wheels of the two shared libraries, the service and every dependency (non-editable). The image's
# pip 24.0 and older give up (ResolutionImpossible) on the OpenTelemetry instrumentation pins; pip 26 resolves them.
RUN python -m pip install --upgrade pip \
    && pip wheel --wheel-dir /wheels ./libs/contracts ./libs/kit ./services/${SERVICE}

FROM python:3.11-slim
ARG SERVICE
ARG HTTP_PORT=8000
ENV SERVICE=${SERVICE} \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=${HTTP_PORT} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/*.whl \
    && python -c "import importlib; importlib.import_module('${SERVICE}_service')"
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001
WORKDIR /app
EXPOSE ${HTTP_PORT}
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HTTP_PORT'] + '/health/ready', timeout=4)"]
# exec: the service is PID 1 and gets SIGTERM directly (graceful shutdown).
CMD ["/bin/sh", "-c", "exec python -m \"${SERVICE}_service\""]
