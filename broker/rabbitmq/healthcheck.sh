#!/usr/bin/env bash
# Docker healthcheck for the sandbox broker; works in the local image and in
# upstream rabbitmq:4.1-management (needs only bash >= 5: /dev/tcp and
# $EPOCHSECONDS, no curl, no Erlang VM). Exit 0 = healthy, 1 = unhealthy.
#
# Why not `rabbitmq-diagnostics -q ping`: it boots an Erlang VM each time,
# about 0.6 s of CPU, far too much every 2 s.
#
# What "healthy" proves: the AMQP 0-9-1 listener answers the protocol header
# with a connection.start frame. RabbitMQ opens its client listeners only
# after the boot-time definitions import has succeeded (a failed import
# aborts the boot), so this also proves definitions.json was loaded; the
# management listener is started before that, so it is up too.
#
# Log noise: RabbitMQ logs three lines (accepting ... / client unexpectedly
# closed TCP connection) for every handshake a client abandons, but nothing
# for a connection closed before it sends any data. So the full handshake
# runs on the first check and then at most once per
# RABBITMQ_HEALTHCHECK_AMQP_EVERY seconds (default 60; 0 = every time);
# the checks in between only prove the listener still accepts connections.
set -u
export LC_ALL=C

port=${RABBITMQ_HEALTHCHECK_PORT:-5672}
every=${RABBITMQ_HEALTHCHECK_AMQP_EVERY:-60}
stamp=/tmp/.sandbox-healthcheck-amqp-ok

fail() { echo "unhealthy: $*"; exit 1; }

{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || fail "nothing accepts connections on 127.0.0.1:$port"

last=0
[[ -r $stamp ]] && read -r last <"$stamp" 2>/dev/null
[[ $last =~ ^[0-9]+$ ]] || last=0
if (( every > 0 && EPOCHSECONDS - last < every )); then
  exit 0    # listener accepted the connection; closing it without data is silent
fi

# AMQP 0-9-1 protocol header; the server answers with a method frame
# (type 1) carrying connection.start (class 10, method 10) for version 0-9.
# bash drops NUL bytes on read: the reply starts 01 00 00 <size> 00 0a 00 0a 00 09.
printf 'AMQP\x00\x00\x09\x01' 2>/dev/null >&3 || fail "could not send the AMQP header"
IFS= read -r -t 2 -N 16 reply 2>/dev/null <&3 || fail "no AMQP reply within 2 s"
[[ $reply == $'\x01'*$'\n\n\t'* ]] || fail "reply is not an AMQP 0-9-1 connection.start"

echo "$EPOCHSECONDS" >"$stamp" 2>/dev/null
exit 0
