# Yizhan API image: gunicorn as a non-root user; migrates the database on start.

# The map page's MapLibre GL JS and the console's htmx come from npm (web/package-lock.json).
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    MAPLIBRE_DIST=/app/maplibre \
    HTMX_DIST=/app/htmx

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY setup.cfg pyproject.toml README.md ./
COPY service ./service
COPY schema ./schema
COPY fixtures ./fixtures
COPY --from=web /web/node_modules/maplibre-gl/dist ./maplibre
COPY --from=web /web/node_modules/htmx.org/dist ./htmx
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --uid 10001 --home-dir /app yizhan

USER yizhan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c \
    "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
# Migrate (idempotent), roll the opening-hours horizon forward, then serve.
CMD ["sh", "-c", "yizhan db upgrade && yizhan hours refresh && exec yizhan serve"]
