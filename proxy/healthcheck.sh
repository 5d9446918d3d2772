#!/usr/bin/env bash
# Container healthcheck for the proxy: GET /nginx-health on the local listener
# and expect HTTP 200. Uses bash's /dev/tcp only (no curl in either the
# upstream nginx image or ours), so it costs one bash process per run.
# Usage: healthcheck.sh [PORT]   (default 8080, the listen port in proxy/site.py)
set -euo pipefail

port=${1:-8080}

# Connection refused fails the redirection at once; nothing else can block.
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET /nginx-health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3

# A stalled server gives up after 2 s instead of hanging until Docker's timeout.
IFS= read -r -t 2 status_line <&3 || { echo "no answer on port ${port}" >&2; exit 1; }
exec 3<&-

case "$status_line" in
  "HTTP/1."[01]" 200 "*) exit 0 ;;
  *) echo "unhealthy: ${status_line%$'\r'}" >&2; exit 1 ;;
esac
