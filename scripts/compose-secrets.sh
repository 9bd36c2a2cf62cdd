#!/usr/bin/env bash
# Writes deploy/.env with a random password for Postgres, Grafana's admin and
# each service's NATS user (deploy/nats/nats.conf); keeps an existing file.
set -euo pipefail
env_file="$(dirname "$0")/../deploy/.env"
if [[ -e "$env_file" ]]; then
  echo "$env_file exists; leaving it as it is" >&2
  exit 0
fi
secret() { head -c 24 /dev/urandom | base64 | tr -d '/+='; }
umask 077
{
  echo "POSTGRES_PASSWORD=$(secret)"
  echo "GRAFANA_ADMIN_PASSWORD=$(secret)"
  for service in GATEWAY DOWNLOAD TRANSCODE TRANSCRIBE DIARIZE EXPORT NOTIFY; do
    echo "STENO_NATS_${service}_PASSWORD=$(secret)"
  done
} > "$env_file"
echo "wrote $env_file" >&2
