#!/usr/bin/env bash
# Container healthcheck over HTTP: GET PATH on 127.0.0.1:PORT and expect 200.
# Uses bash's /dev/tcp only (no curl in the nginx images, no Python start-up
# in the services'), so it costs one bash process per run: cheap enough to run
# every second, which is what lets `up --wait` return soon after a service is ready.
# Usage: healthcheck.sh [PORT] [PATH]   (default 8080 /nginx-health: the proxy)
set -euo pipefail

port=${1:-8080}
path=${2:-/nginx-health}

# Connection refused fails the redirection at once; nothing else can block.
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3

# A stalled server gives up after 2 s instead of hanging until Docker's timeout.
IFS= read -r -t 2 status_line <&3 || { echo "no answer on port ${port}" >&2; exit 1; }
exec 3<&-

case "$status_line" in
  "HTTP/1."[01]" 200 "*) exit 0 ;;
  *) echo "unhealthy: ${status_line%$'\r'}" >&2; exit 1 ;;
esac
