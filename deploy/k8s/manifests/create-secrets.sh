#!/usr/bin/env sh
# Creates the Secrets that the plain manifests (kubectl apply -k deploy/k8s/manifests) expect,
# with random credentials. Existing Secrets are left alone, so it is safe to run again.
#
#   deploy/k8s/manifests/create-secrets.sh [namespace]        (default: realtimekit)
#
# The keys match the chart's Secrets (templates/secrets.yaml, templates/postgres.yaml);
# tests/deploy/test_manifests.py checks that they stay in step.
set -eu

NS="${1:-realtimekit}"
PREFIX=realtimekit
PG_USER=realtime
PG_DB=realtime

random() { # $1 characters of [A-Za-z0-9]
  LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1"
}
fernet_key() { # 32 random bytes, URL-safe base64
  head -c 32 /dev/urandom | base64 | tr '+/' '-_'
}
missing() {
  ! kubectl -n "$NS" get secret "$1" >/dev/null 2>&1
}

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

if missing "$PREFIX-secrets"; then
  kubectl -n "$NS" create secret generic "$PREFIX-secrets" \
    --from-literal=RTK_INTERNAL_TOKEN="$(random 48)" \
    --from-literal=RTK_AUTH_KEY_ENCRYPTION_KEY="$(fernet_key)" \
    --from-literal=RTK_NATS_URL="nats://$PREFIX-nats:4222"
fi

if missing "$PREFIX-postgres"; then
  password="$(random 32)"
  kubectl -n "$NS" create secret generic "$PREFIX-postgres" \
    --from-literal=username="$PG_USER" \
    --from-literal=password="$password" \
    --from-literal=dbname="$PG_DB" \
    --from-literal=uri="postgresql://$PG_USER:$password@$PREFIX-postgres:5432/$PG_DB"
fi
