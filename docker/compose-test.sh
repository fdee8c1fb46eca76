#!/usr/bin/env bash
# On-demand test of docker-compose.yml on a machine without registry access (README: "The
# production shape: docker compose"). As root on Debian it:
#   1. installs docker.io, docker-compose and debootstrap with apt-get when missing;
#   2. builds the release binaries, the web UI and the /docs assets on the host and copies
#      them into docker/prebuilt/ (the image's ARTIFACTS=prebuilt path);
#   3. starts its own dockerd (data, socket and state under $WAYPOINT_DOCKER_DIR; overlay2,
#      or vfs when the kernel refuses overlay2; iptables off: no NAT, nothing published
#      beyond the host);
#   4. builds local stand-ins for the official images (docker/local-images.sh), then the
#      Waypoint images through compose, and starts docker-compose.yml + docker-compose.test.yml
#      with secrets generated for this run;
#   5. waits until every container is healthy or running, walks the user's path through
#      nginx (docker/compose-walk.py) and prints each step;
#   6. tears everything down: containers, networks, volumes, images, build cache, dockerd,
#      its data, docker/prebuilt/. Only the debootstrapped rootfs tarball and the logs stay in
#      $WAYPOINT_DOCKER_DIR.
# Exit status: the walk's (0 when every step passed).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${WAYPOINT_DOCKER_DIR:-/var/tmp/waypoint-docker}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
LOG="$DIR/logs/compose-test-$STAMP.log"
PROJECT=waypoint-test
mkdir -p "$DIR/logs"
exec > >(tee -a "$LOG") 2>&1
started=$(date +%s)
say() { printf '[compose-test %4ss] %s\n' "$(($(date +%s) - started))" "$*"; }
say "log: $LOG"

[ "$(id -u)" = 0 ] || { echo "compose-test: run as root (dockerd, debootstrap)" >&2; exit 2; }
[ -e "$DIR/docker.sock" ] && { echo "compose-test: $DIR/docker.sock exists: another run? (remove it if not)" >&2; exit 2; }

missing=()
command -v dockerd > /dev/null || missing+=(docker.io)
command -v debootstrap > /dev/null || missing+=(debootstrap)
if ! docker compose version > /dev/null 2>&1 && ! command -v docker-compose > /dev/null; then
    missing+=(docker-compose)
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    apt-get install -y --no-install-recommends "${missing[@]}" > "$DIR/logs/apt-$STAMP.log" 2>&1 \
        || { apt-get update > /dev/null && apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

export DOCKER_HOST="unix://$DIR/docker.sock"
# A docker CLI that builds with BuildKit (the Dockerfile needs it): the default one if it has
# buildx, else the docker.io package's (which has BuildKit built in).
bin="$DIR/bin"
mkdir -p "$bin"
if docker buildx version > /dev/null 2>&1; then
    DOCKER=$(command -v docker)
else
    DOCKER=/usr/bin/docker
fi
ln -sf "$DOCKER" "$bin/docker"
export PATH="$bin:$PATH" DOCKER
if docker compose version > /dev/null 2>&1; then
    COMPOSE=(docker compose)
else
    # docker-compose v1 builds through the docker CLI (BuildKit) when asked to.
    COMPOSE=(docker-compose)
    export COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1
fi
COMPOSE+=(--project-name "$PROJECT" -f "$ROOT/docker-compose.yml" -f "$ROOT/docker-compose.test.yml")

dockerd_pid=
run_dir="$DIR/run"
compose_up=
cleanup() {
    status=$?
    set +e
    if [ -n "$compose_up" ]; then
        if [ "$status" != 0 ]; then
            say "failed: container states and the last log lines of each"
            "${COMPOSE[@]}" ps
            "${COMPOSE[@]}" logs --no-color --tail 30
        fi
        say "teardown: compose down (containers, networks, volumes, images)"
        timeout 180 "${COMPOSE[@]}" down --volumes --rmi all --remove-orphans --timeout 10
    fi
    if [ -n "$dockerd_pid" ]; then
        docker image rm -f $(docker image ls -q) > /dev/null 2>&1
        docker builder prune -af > /dev/null 2>&1
        say "teardown: stopping dockerd ($dockerd_pid)"
        kill "$dockerd_pid" 2> /dev/null
        for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2> /dev/null || break; sleep 1; done
        kill -9 "$dockerd_pid" 2> /dev/null
    fi
    # Anything the engine left mounted under its directories, then the directories.
    findmnt -rn -o TARGET | grep -E "^$DIR/(data|exec)" | sort -r | xargs -r umount -l
    rm -rf "$DIR/data" "$DIR/exec" "$DIR/docker.sock" "$DIR/dockerd.pid" "$run_dir" "$bin" \
        "$ROOT/docker/prebuilt"
    say "teardown: done; disk $(df -h --output=avail "$DIR" | tail -1 | tr -d ' ') free; exit $status"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 2. Host-built artifacts.
bins=(gateway auth-service rbac-service chat-service payment-service recommend-service fake-alipay fake-wechat)
release=${WAYPOINT_COMPOSE_BINARIES:-}
if [ -z "$release" ]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    say "cargo build --release (${bins[*]})"
    (cd "$ROOT" && cargo build --release --locked --quiet --bins $(printf -- '-p %s ' "${bins[@]}"))
    release=$CARGO_TARGET_DIR/release
else
    say "release binaries from $release (WAYPOINT_COMPOSE_BINARIES)"
fi
rm -rf "$ROOT/docker/prebuilt"
mkdir -p "$ROOT/docker/prebuilt/bin"
for b in "${bins[@]}"; do
    # Copied at once (a shared target directory may be rebuilt by someone else), without
    # debug info: every container gets its own copy of the image on vfs.
    strip --strip-debug -o "$ROOT/docker/prebuilt/bin/$b" "$release/$b"
done
say "web UI: npm run build (web/), /docs assets (docs/)"
(cd "$ROOT/web" && { [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund --silent; } \
    && npm run build --silent > /dev/null)
(cd "$ROOT/docs" && { [ -d node_modules/swagger-ui-dist ] || npm ci --ignore-scripts --no-audit --no-fund --silent; })
cp -r "$ROOT/web/dist" "$ROOT/docker/prebuilt/web"
cp -r "$ROOT/docs/node_modules/swagger-ui-dist" "$ROOT/docker/prebuilt/swagger-ui-dist"
say "artifacts: $(du -sh "$ROOT/docker/prebuilt" | cut -f1) in docker/prebuilt/"

# 3. Our own engine.
start_dockerd() {
    mkdir -p "$DIR/data" "$DIR/exec"
    dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" --host "$DOCKER_HOST" \
        --pidfile "$DIR/dockerd.pid" --storage-driver "$1" --iptables=false --ip6tables=false \
        --bridge=none > "$DIR/logs/dockerd-$STAMP.log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 1 30); do
        docker version > /dev/null 2>&1 && return 0
        kill -0 "$dockerd_pid" 2> /dev/null || return 1
        sleep 1
    done
    return 1
}
stop_dockerd() {
    kill "$dockerd_pid" 2> /dev/null
    wait "$dockerd_pid" 2> /dev/null
    dockerd_pid=
    rm -rf "$DIR/data" "$DIR/exec" "$DIR/docker.sock"
}
driver=overlay2
if ! start_dockerd overlay2; then
    stop_dockerd
    driver=vfs
    start_dockerd vfs || { say "dockerd did not start: $DIR/logs/dockerd-$STAMP.log"; exit 1; }
fi
say "dockerd $(docker version --format '{{.Server.Version}}') up (pid $dockerd_pid, storage $driver)"

# 4. Images and the stack.
say "local stand-in images (docker/local-images.sh)"
eval "$(DOCKER="$DOCKER" "$ROOT/docker/local-images.sh")"
if [ "$driver" = overlay2 ] && ! docker run --rm --network none "$DEBIAN_IMAGE" true > /dev/null 2>&1; then
    say "overlay2 cannot run containers here: restarting dockerd with vfs"
    docker image rm -f $(docker image ls -q) > /dev/null 2>&1
    stop_dockerd
    driver=vfs
    start_dockerd vfs || { say "dockerd did not start with vfs"; exit 1; }
    eval "$(DOCKER="$DOCKER" "$ROOT/docker/local-images.sh")"
fi
docker image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}'

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p "$run_dir"
chmod 700 "$run_dir"
# Secrets for this run only, never written outside $run_dir (removed at exit).
export WAYPOINT_ARTIFACTS=prebuilt WAYPOINT_BUILD_NETWORK=host
export WAYPOINT_HTTP_PORT=$(free_port) WAYPOINT_PROMETHEUS_PORT=$(free_port) WAYPOINT_TEST_ALIPAY_PORT=$(free_port)
export POSTGRES_PASSWORD=$(openssl rand -hex 16) WAYPOINT_INTERNAL_TOKEN=$(openssl rand -hex 32)
export WAYPOINT_ADMIN_ACCOUNT=admin WAYPOINT_ADMIN_PASSWORD=$(openssl rand -base64 18)
export WECHAT_APPID=wx$(openssl rand -hex 8) WECHAT_SECRET=$(openssl rand -hex 16)
export WECHAT_OPEN_BASE=http://fake-wechat:8110 WECHAT_API_BASE=http://fake-wechat:8110
export WECHAT_REDIRECT_URI=http://127.0.0.1:$WAYPOINT_HTTP_PORT/v1/auth/oauth/wechat/callback
"$ROOT/docker/prebuilt/bin/fake-alipay" keys "$run_dir/alipay" 2> /dev/null
chown -R 10001 "$run_dir/alipay"   # the image's user reads them
export WAYPOINT_TEST_ALIPAY_KEYS="$run_dir/alipay"
export ALIPAY_APP_ID=2021000000000001 ALIPAY_SELLER_ID=2088000000000001
export ALIPAY_APP_PRIVATE_KEY="$(cat "$run_dir/alipay/app-private.pem")"
export ALIPAY_PUBLIC_KEY="$(cat "$run_dir/alipay/alipay-public.pem")"
export ALIPAY_GATEWAY_URL=http://fake-alipay:8106/gateway.do
# Notifications go to nginx by its compose name, as Alipay's would to the public address.
export ALIPAY_NOTIFY_URL=http://nginx/v1/payments/alipay/notify
export ALIPAY_RETURN_URL=http://127.0.0.1:$WAYPOINT_HTTP_PORT/v1/payments/alipay/return

say "compose: ${COMPOSE[*]:0:2} $("${COMPOSE[@]}" version --short 2> /dev/null || true)"
say "compose build (waypoint:latest, waypoint-web:latest from docker/prebuilt/)"
"${COMPOSE[@]}" build --quiet 2>&1 | grep -v '^#' || true
docker image inspect waypoint:latest waypoint-web:latest > /dev/null
compose_up=1
say "compose up"
"${COMPOSE[@]}" up --detach --no-build

# 5. Every container healthy (or running, where the image has no health check).
deadline=$(($(date +%s) + 300))
while :; do
    states=$(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" \
        --format '{{.Names}} {{.State}} {{.Status}}')
    total=$(wc -l <<< "$states")
    ready=$(grep -cE ' running .*(\(healthy\)|Up [^(]*$)' <<< "$states" || true)
    if [ "$total" -gt 0 ] && [ "$ready" = "$total" ]; then
        break
    fi
    if [ "$(date +%s)" -gt "$deadline" ]; then
        say "not ready within 300 s:"
        echo "$states"
        exit 1
    fi
    say "waiting: $ready/$total containers ready"
    sleep 10
done
say "all $total containers ready (name, state, status, restarts):"
for c in $(cut -d' ' -f1 <<< "$states" | sort); do
    printf '  %-40s %s\n' "$c" "$(docker inspect -f \
        '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}} {{end}}restarts={{.RestartCount}}' "$c")"
done
# Why a container restarted (its earlier run's log stays): the first errors and warnings.
for c in $(docker ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}}' | sort); do
    if [ "$(docker inspect -f '{{.RestartCount}}' "$c")" != 0 ]; then
        echo "  $c restarted; its first errors:"
        docker logs "$c" 2>&1 | grep -m3 -E '"level":"(ERROR|WARN)"|[Ee]rror:|panicked' | cut -c1-400 | sed 's/^/    /'
    fi
done

say "walk through nginx on 127.0.0.1:$WAYPOINT_HTTP_PORT"
WALK_BASE=http://127.0.0.1:$WAYPOINT_HTTP_PORT WALK_ALIPAY=http://127.0.0.1:$WAYPOINT_TEST_ALIPAY_PORT \
    WALK_ADMIN_ACCOUNT=$WAYPOINT_ADMIN_ACCOUNT WALK_ADMIN_PASSWORD=$WAYPOINT_ADMIN_PASSWORD \
    WALK_PROMETHEUS=http://127.0.0.1:$WAYPOINT_PROMETHEUS_PORT WALK_WECHAT_OPEN_BASE=$WECHAT_OPEN_BASE \
    python3 "$ROOT/docker/compose-walk.py"

# Which replicas answered: requests per container from their JSON log lines, health checks
# (/readyz) left out.
say "requests served per container (not counting /readyz):"
for c in $(docker ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}}' | sort); do
    served=$(docker logs "$c" 2>&1 | grep '"message":"request' | grep -vc '"path":"/readyz"' || true)
    printf '  %-40s %s\n' "$c" "$served"
done
# -x: not into the running containers' overlay mounts, which would count the images again.
say "disk used by the engine: $(du -sxh "$DIR/data" | cut -f1)"
