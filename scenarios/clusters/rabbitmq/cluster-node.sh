#!/usr/bin/env bash
# Entrypoint of the lesson's RabbitMQ cluster nodes (compose.yaml, profile
# `clusters`); works with the local image and with upstream's.
#
# Nodes of one cluster must share an Erlang cookie. `make up` generates one on
# this machine (.sandbox/rabbitmq/cluster.cookie, never committed) and compose
# hands it to every node as the secret /run/secrets/rabbitmq-cluster-cookie.
# Erlang reads the cookie from $HOME/.erlang.cookie and refuses a file that
# anyone but its owner can read, so the node's own user installs a private
# copy before it starts the broker. The CLI tools (rabbitmqctl inside the
# container) read the same file.
set -euo pipefail
secret=/run/secrets/rabbitmq-cluster-cookie
[[ -s $secret ]] || { echo "missing Erlang cookie: $secret (run make up)" >&2; exit 1; }
install -m 0400 "$secret" "$HOME/.erlang.cookie"
exec rabbitmq-server
