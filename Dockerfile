# One image for every Waypoint service (the last stage; docker-compose.yml picks the binary
# per container), and the `web` target: nginx with the built web UI.
#
# Base images are build arguments so that a machine without a registry can substitute
# local stand-ins (docker/local-images.sh builds them from Debian packages). ARTIFACTS=source
# (the default) compiles the binaries, the web UI and the /docs assets here;
# ARTIFACTS=prebuilt takes the ones docker/compose-test.sh built on the host and copied under
# docker/prebuilt/ (for that test: a deployment builds from source).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG NGINX_IMAGE=nginx:1.27-bookworm
ARG ARTIFACTS=source

FROM ${NODE_IMAGE} AS docs-source
WORKDIR /docs
COPY docs/package.json docs/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# The web UI, built once and served by nginx (docker-compose.yml's nginx uses this target).
FROM ${NODE_IMAGE} AS web-source
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM ${RUST_IMAGE} AS binaries-source
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins -p auth-service -p rbac-service -p chat-service -p payment-service \
       -p recommend-service -p gateway -p fake-alipay -p fake-wechat \
 && mkdir -p /out \
 && cp target/release/auth-service target/release/rbac-service target/release/chat-service \
       target/release/payment-service target/release/recommend-service target/release/gateway \
       target/release/fake-alipay target/release/fake-wechat /out/

FROM scratch AS docs-prebuilt
COPY docker/prebuilt/swagger-ui-dist /docs/node_modules/swagger-ui-dist
FROM scratch AS web-prebuilt
COPY docker/prebuilt/web /web/dist
FROM scratch AS binaries-prebuilt
COPY docker/prebuilt/bin /out

# Only the stages ARTIFACTS names are built (BuildKit skips the others).
FROM docs-${ARTIFACTS} AS docs
FROM web-${ARTIFACTS} AS web-dist
FROM binaries-${ARTIFACTS} AS binaries

FROM ${NGINX_IMAGE} AS web
COPY --from=web-dist /web/dist /usr/share/nginx/html

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data waypoint \
 && mkdir -p /data && chown waypoint /data
COPY --from=binaries /out/ /usr/local/bin/
COPY --from=docs /docs/node_modules/swagger-ui-dist /opt/waypoint/docs/node_modules/swagger-ui-dist
USER waypoint
WORKDIR /data
ENV WAYPOINT_DATA_DIR=/data \
    DOCS_DIR=/opt/waypoint/docs \
    LOG_FORMAT=json \
    BIND_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
