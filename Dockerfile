# syntax=docker/dockerfile:1
# The bot's image: `docker run IMAGE` serves (port 3000, --no-migrate), `docker run IMAGE
# migrate` applies the migrations. Checked by hadolint in tests/shipping.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: the app and its dependencies in a virtualenv (compilers stay here).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY alerts ./alerts
COPY commands ./commands
COPY actions ./actions
COPY incidents ./incidents
COPY oncall ./oncall
COPY migrations ./migrations
# Not editable: the runtime stage copies /opt/venv alone, without /src.
RUN /opt/venv/bin/pip install . \
 && /opt/venv/bin/chatops --help >/dev/null

# Runtime stage: slim, non-root, no pip cache, no wheels, no build tools.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="chatops-oncall" \
      org.opencontainers.image.description="Slack ChatOps bot for on-call teams" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHATOPS_CONFIG=/etc/chatops/chatops.yaml
RUN groupadd --system --gid 10001 chatops \
 && useradd --system --uid 10001 --gid chatops --home-dir /app --shell /usr/sbin/nologin chatops
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Owned by root and read-only for the bot: it writes nothing but its database (PostgreSQL
# in production; the SQLite default needs a writable volume at /app).
COPY examples ./examples
COPY runbooks ./runbooks
USER 10001:10001
EXPOSE 3000
# Migrations run as their own step in production (`chatops migrate`, the Kubernetes Job
# in deploy/); replicas then start with --no-migrate.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["chatops"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000", "--no-migrate"]
