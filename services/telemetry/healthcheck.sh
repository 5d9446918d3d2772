#!/usr/bin/env bash
# Healthy when the service's working loop touched /tmp/heartbeat in the last
# MAX_AGE seconds (default 10): see services/telemetry/heartbeat.py.
max_age=${1:-10}
beat=$(stat -c %Y /tmp/heartbeat 2>/dev/null) || { echo "no heartbeat yet"; exit 1; }
age=$(( $(date +%s) - beat ))
(( age <= max_age )) || { echo "last heartbeat ${age}s ago"; exit 1; }
