#!/usr/bin/env bash
# Lesson auth's Kafka identities, made once after the broker is up (the one-shot
# kafka-auth-setup in compose.yaml): the topic auth.orders, a SCRAM-SHA-512
# credential for each principal in /run/secrets/kafka-users ("name password"
# lines, written by `make up` from .env or the documented defaults), and ACLs:
#
#   User:sandbox-auth-producer  Write, Describe   topic auth.orders
#   User:sandbox-auth-consumer  Read, Describe    topic auth.orders, group auth.readers
#
#   User:ANONYMOUS              denied All        topics and groups prefixed auth.
#
# Nothing else is granted to anybody in auth.*: with ACLs on them, the broker's
# allow.everyone.if.no.acl.found no longer applies there. It talks to the
# broker on its plaintext listener, where the cluster itself has no ACL: see the
# lesson page, "Kafka", for what that leaves open. Every step may be run again.
set -euo pipefail

bin=/opt/kafka/bin
bootstrap=${KAFKA_BOOTSTRAP:-kafka:19092}
topic=auth.orders
group=auth.readers

say() { echo "===> $*"; }

# The broker is healthy before this runs (depends_on), but it may still be electing
# its controller after a restart: a few tries, then give up loudly.
retry() {
  local attempt
  for attempt in 1 2 3 4 5; do
    "$@" && return 0
    say "not yet (try $attempt of 5): $1"
    sleep 2
  done
  return 1
}

say "topic $topic"
retry "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
  --topic "$topic" --partitions 1 --replication-factor 1

while read -r name password; do
  [ -n "$name" ] || continue
  say "SCRAM-SHA-512 credential for $name"
  # The password is an argument of this short-lived container's own process only.
  retry "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter --entity-type users \
    --entity-name "$name" --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]"
done < /run/secrets/kafka-users

say "ACLs"
# The lesson's namespace closed to the plaintext listeners' ANONYMOUS (a DENY wins
# over any ALLOW); and, being ACLs on every auth.* resource, they take
# allow.everyone.if.no.acl.found off those: a group like auth.others, which nobody
# is allowed, is refused to every principal.
retry "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --add \
  --deny-principal User:ANONYMOUS --operation All \
  --resource-pattern-type prefixed --topic auth. --group auth.
retry "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --add \
  --allow-principal User:sandbox-auth-producer --operation Write --operation Describe \
  --topic "$topic"
retry "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --add \
  --allow-principal User:sandbox-auth-consumer --operation Read --operation Describe \
  --topic "$topic" --group "$group"
say "done"
