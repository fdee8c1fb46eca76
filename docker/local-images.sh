#!/usr/bin/env bash
# Local stand-ins for the official images docker-compose.yml names, built from Debian
# bookworm packages, for a Docker engine that cannot pull from a registry:
#
#   waypoint-local/debian:bookworm       debootstrap --variant=minbase (+ ca-certificates,
#                                        curl), trimmed like debian:bookworm-slim, imported
#   waypoint-local/postgres:bookworm     docker/local/Dockerfile's targets on top of it
#   waypoint-local/redis:bookworm
#   waypoint-local/nginx:bookworm
#   waypoint-local/prometheus:bookworm
#
# and prints the variables that point docker-compose.yml at them (eval its output).
# Needs root (debootstrap), a Docker engine (DOCKER_HOST) and a docker CLI that builds with
# BuildKit ($DOCKER, default docker). The debootstrapped rootfs is kept as a tarball
# ($WAYPOINT_DOCKER_DIR/rootfs.tar) and reused by the next run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${WAYPOINT_DOCKER_DIR:-/var/tmp/waypoint-docker}
DOCKER=${DOCKER:-docker}
MIRROR=http://deb.debian.org/debian

mkdir -p "$DIR"
if [ ! -s "$DIR/rootfs.tar" ]; then
    echo "local-images: debootstrap bookworm (minbase) into $DIR/rootfs" >&2
    rm -rf "$DIR/rootfs"
    debootstrap --variant=minbase --include=ca-certificates,curl bookworm "$DIR/rootfs" "$MIRROR" \
        > "$DIR/debootstrap.log" 2>&1 || { tail -20 "$DIR/debootstrap.log" >&2; exit 1; }
    # What debian:bookworm-slim leaves out: package caches and lists, documentation, locales.
    (cd "$DIR/rootfs" && rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* usr/share/doc/* \
        usr/share/man/* usr/share/info/* usr/share/locale/* var/log/*.log)
    tar -C "$DIR/rootfs" -cf "$DIR/rootfs.tar.part" . && mv "$DIR/rootfs.tar.part" "$DIR/rootfs.tar"
    rm -rf "$DIR/rootfs"
fi
"$DOCKER" import -c 'CMD ["bash"]' "$DIR/rootfs.tar" waypoint-local/debian:bookworm > /dev/null
echo "local-images: waypoint-local/debian:bookworm" >&2

for target in postgres redis nginx prometheus; do
    # --network host: apt-get reaches Debian's mirror without the engine's NAT (the test
    # runs dockerd with --iptables=false).
    DOCKER_BUILDKIT=1 "$DOCKER" build --quiet --network host --target "$target" \
        --build-arg DEBIAN_IMAGE=waypoint-local/debian:bookworm \
        -t "waypoint-local/$target:bookworm" "$ROOT/docker/local" > /dev/null
    echo "local-images: waypoint-local/$target:bookworm" >&2
done

cat <<'EOF'
export DEBIAN_IMAGE=waypoint-local/debian:bookworm
export POSTGRES_IMAGE=waypoint-local/postgres:bookworm
export REDIS_IMAGE=waypoint-local/redis:bookworm
export NGINX_IMAGE=waypoint-local/nginx:bookworm
export PROMETHEUS_IMAGE=waypoint-local/prometheus:bookworm
EOF
