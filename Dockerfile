# nija_tg: bot and engine in one image. Runs as a non-root user; the data (SQLite, logs)
# lives in the volume at /data. Dependencies come from the hashed lock file only.
#   docker build -t nija-tg .
#   docker compose up -d          (compose.yaml: bot and engine sharing the volume)
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NIJA_DATA_DIR=/data \
    NIJA_PYTHON=/usr/local/bin/python

RUN groupadd --gid 10001 nija && useradd --uid 10001 --gid nija --no-create-home nija

WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md supervisord.conf ./
COPY nija_tg ./nija_tg
COPY scripts ./scripts
RUN pip install --no-deps . && python -c "import nija_tg.cli"

RUN mkdir -p /data && chown nija:nija /data && chmod 700 /data
VOLUME ["/data"]
USER nija

# healthy while the engine's heartbeat is fresh and nothing is late (nija-tg health)
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-m", "nija_tg", "health"]

# both programs under supervisord (one container); compose.yaml runs them apart
CMD ["sh", "-c", "python -m nija_tg check && python -m nija_tg init >/dev/null && exec supervisord -n -c /app/supervisord.conf"]
