# Release Train: a small image that serves the GitHub App's webhooks.
# Build: docker build -t release-train .
# Run:   docker run -p 3000:3000 -e APP_ID=... -e PRIVATE_KEY="$(cat key.pem)" -e WEBHOOK_SECRET=... \
#          -e STATE_URL=sqlite:////data/release-train.db -v rt-data:/data release-train
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    STATE_URL=sqlite:////data/release-train.db \
    LOG_FORMAT=json
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin release-train \
    && mkdir /data && chown release-train /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER release-train
WORKDIR /home/release-train
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["release-train", "healthcheck"]
CMD ["release-train", "serve"]
