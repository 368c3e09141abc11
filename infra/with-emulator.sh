#!/usr/bin/env bash
# Runs a command with the local AWS emulator (moto server) up on a free loopback port,
# announced to the command as NUDGE_TEST_AWS_ENDPOINT; stops the emulator however the
# command ends.
#   infra/with-emulator.sh cargo test --workspace --all-features
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
moto="$root/.venv/emulator/bin/moto_server"
[ -x "$moto" ] || { echo "with-emulator: $moto is missing; run 'make test', which installs it" >&2; exit 2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
log="$root/target/emulator.log"
mkdir -p "$root/target"
"$moto" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
pid=$!
# Stop the emulator however the command ends; a busy one gets five seconds, then SIGKILL.
stop_emulator() {
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap stop_emulator EXIT

endpoint="http://127.0.0.1:$port"
answers() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$endpoint/moto-api/" >/dev/null 2>&1; }
for _ in $(seq 1 100); do
  if answers; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "with-emulator: the emulator exited; see $log" >&2; exit 2; fi
  sleep 0.2
done
answers || { echo "with-emulator: the emulator did not answer on $endpoint; see $log" >&2; exit 2; }
echo "with-emulator: AWS emulator (moto) on $endpoint" >&2

export NUDGE_TEST_AWS_ENDPOINT="$endpoint"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
"$@"
