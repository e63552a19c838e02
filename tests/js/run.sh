#!/usr/bin/env bash
# Runs Better Auth's official JS client against a freshly started `sesame serve`.
# Installs the client from the npm registry on first use (tests/js/node_modules).
# Without Node.js it skips with a message, except in CI, where it fails.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1; then
  if [ -n "${CI:-}" ]; then echo "node is required in CI for the JS client test" >&2; exit 1; fi
  echo "SKIP: node not found, the official JS client test did not run" >&2
  exit 0
fi
[ -d node_modules/better-auth ] || npm ci --no-audit --no-fund >/dev/null
cargo build --quiet --manifest-path ../../Cargo.toml --bin sesame
bin=../../target/debug/sesame
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
# The flows sign in more often than Better Auth's 3 per 10 s from one address: rate limiting
# stays on, with roomier rules for the credential paths.
BETTER_AUTH_SECRET=js-client-test-secret-0123456789abcdef PORT=$port HOST=127.0.0.1 \
  BETTER_AUTH_URL=http://127.0.0.1:$port SESAME_BCRYPT_COST=4 DATABASE_URL="${JS_TEST_DATABASE_URL:-memory}" \
  SESAME_PLUGINS=bearer,username,jwt,open-api \
  SESAME_RATE_LIMIT_RULES='/sign-in*=100/10,/sign-up*=100/10,/change-password*=100/10,/change-email*=100/10' \
  "$bin" serve >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/api/auth/ok" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! { node client-flow.mjs "http://127.0.0.1:$port" && node plugins-flow.mjs "http://127.0.0.1:$port" \
  && node jwt-client.mjs "http://127.0.0.1:$port"; }; then
  echo "--- sesame log" >&2; tail -50 "$log" >&2; exit 1
fi
