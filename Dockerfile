# One image for every Waypoint service (the last stage; docker-compose.yml picks the binary
# per container), and the `web` target: nginx with the built web UI.
FROM node:20-bookworm-slim AS docs
WORKDIR /docs
COPY docs/package.json docs/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# The web UI, built once and served by nginx (docker-compose.yml's nginx uses this target).
FROM node:20-bookworm-slim AS web-build
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM nginx:1.27-bookworm AS web
COPY --from=web-build /web/dist /usr/share/nginx/html

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins -p auth-service -p rbac-service -p chat-service -p payment-service \
       -p recommend-service -p gateway \
 && mkdir -p /out \
 && cp target/release/auth-service target/release/rbac-service target/release/chat-service \
       target/release/payment-service target/release/recommend-service target/release/gateway /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data waypoint \
 && mkdir -p /data && chown waypoint /data
COPY --from=build /out/ /usr/local/bin/
COPY --from=docs /docs/node_modules/swagger-ui-dist /opt/waypoint/docs/node_modules/swagger-ui-dist
USER waypoint
WORKDIR /data
ENV WAYPOINT_DATA_DIR=/data \
    DOCS_DIR=/opt/waypoint/docs \
    LOG_FORMAT=json \
    BIND_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
