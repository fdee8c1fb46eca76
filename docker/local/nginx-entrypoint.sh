#!/bin/sh
# The part of the official nginx image's entrypoint that docker-compose.yml relies on
# (20-envsubst-on-templates.sh): every /etc/nginx/templates/*.template becomes
# /etc/nginx/conf.d/*.conf with only the set environment variables substituted, so nginx's
# own $variables stay as they are.
set -eu
if [ -d /etc/nginx/templates ]; then
    defined=$(printf '${%s} ' $(env | cut -d= -f1))
    for template in /etc/nginx/templates/*.template; do
        [ -f "$template" ] || continue
        name=$(basename "$template" .template)
        envsubst "$defined" < "$template" > "/etc/nginx/conf.d/$name"
        echo "docker-entrypoint: $template -> /etc/nginx/conf.d/$name"
    done
fi
exec "$@"
