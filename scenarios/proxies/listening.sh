#!/usr/bin/env bash
# Healthcheck that opens no connection: healthy when every PORT has a socket in
# LISTEN state in this network namespace (/proc/net/tcp, state 0A). The
# lesson counts the connections its proxies accept and open from the kernel's
# own counters (/proc/net/snmp), and a healthcheck that connected every few
# seconds would add to them. Bash builtins only.
# Usage: listening.sh PORT...
set -euo pipefail
for port in "$@"; do
  hex=$(printf ':%04X' "$port")
  found=no
  while read -r _ local _ state _; do
    [[ $local == *"$hex" && $state == 0A ]] && { found=yes; break; }
  done </proc/net/tcp
  [[ $found == yes ]] || { echo "nothing listens on port $port" >&2; exit 1; }
done
