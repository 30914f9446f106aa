# syntax=docker/dockerfile:1
# Build stage: wheels for the app and its dependencies (compilers stay here).
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY alerts ./alerts
COPY commands ./commands
COPY actions ./actions
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: slim, non-root, no build tools.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CHATOPS_CONFIG=/etc/chatops/chatops.yaml
RUN groupadd --system --gid 10001 chatops \
 && useradd --system --uid 10001 --gid chatops --home-dir /app --shell /usr/sbin/nologin chatops
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY --chown=chatops:chatops examples ./examples
COPY --chown=chatops:chatops runbooks ./runbooks
USER 10001:10001
EXPOSE 3000
# Migrations run as their own step in production (`chatops migrate`, e.g. a Kubernetes Job);
# replicas then start with --no-migrate.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["chatops"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000", "--no-migrate"]
