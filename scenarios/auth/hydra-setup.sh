# Lesson auth's one-shot setup of Hydra (compose service hydra-setup), on its admin API.
# Hydra keeps nothing (DSN=memory), so this runs after each of its starts; it may also
# run again against a Hydra that has the clients already: each is deleted, then imported.
set -eu
ADMIN=${HYDRA_ADMIN_URL:-http://hydra:4445}
CLIENTS=${HYDRA_CLIENTS_FILE:-/run/secrets/auth-clients}

# ES256 keys, before any token: without a key set Hydra makes RSA-4096 keys on the first
# request (1.7 s), and signs each token about twice as slowly.
for set in hydra.jwt.access-token hydra.openid.id-token; do
  if ! hydra get jwk "$set" --endpoint "$ADMIN" --format json-pretty 2>/dev/null | grep -q '"ES256"'; then
    hydra create jwk "$set" --alg ES256 --use sig --endpoint "$ADMIN" --format json >/dev/null
  fi
done
# The client ids, one per line, from the JSON file (no jq in either image).
for id in $(sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p' "$CLIENTS"); do
  hydra delete oauth2-client "$id" --endpoint "$ADMIN" >/dev/null 2>&1 || true
done
hydra import oauth2-client "$CLIENTS" --endpoint "$ADMIN" --format json >/dev/null
echo "hydra-setup: ES256 signing keys and $(grep -c '"client_id"' "$CLIENTS") clients in place"
