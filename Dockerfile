# triage: the long-lived service (`serve`) or any one-shot command (`docker run IMAGE crawl ...`).
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/triage \
    PATH=/opt/triage/bin:$PATH \
    TRIAGE_RULES=/app/rules \
    TRIAGE_DB=/data/triage.db \
    TRIAGE_INBOX=/inbox \
    TRIAGE_EVIDENCE_DIR=/evidence \
    TRIAGE_HOST=0.0.0.0 \
    TRIAGE_PORT=8000

WORKDIR /app
# Dependencies first (better layer caching), then the code.
COPY pyproject.toml README.md ./
COPY crawler ./crawler
COPY storage ./storage
RUN python3 -m venv /opt/triage \
 && /opt/triage/bin/pip install --no-cache-dir . \
 && rm -rf /root/.cache
COPY rules ./rules
COPY seeds ./seeds

# Run as an unprivileged user; the database, the seed inbox and WARC evidence live on volumes.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home triage \
 && mkdir -p /data /inbox /evidence \
 && chown -R triage:triage /data /inbox /evidence
USER triage
VOLUME ["/data", "/inbox", "/evidence"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["triage"]
CMD ["serve"]
