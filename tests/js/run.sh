#!/usr/bin/env bash
# Runs Better Auth's official JS client (unchanged, from npm) against freshly started
# `sesame serve` processes, on memory, SQLite and PostgreSQL storage:
#   client-flow.mjs   email/password, sessions, user, password (core)
#   plugins-flow.mjs  username + bearer plugins;  jwt-client.mjs  jwt plugin (jose verifies)
#   two-factor-flow.mjs  twoFactorClient: TOTP, trusted device, emailed OTP (webhook), backup codes
#   magic-link-flow.mjs  magicLinkClient: emailed links (webhook), sign-up, verify, errors, hostile URLs
#   anonymous-flow.mjs   anonymousClient: guests, the guest ended by sign-up or a magic link, deletion
#   email-otp-flow.mjs  emailOTPClient: sign-up/sign-in, verification and reset by emailed code (webhook)
#   email-flow.mjs    every email flow, links from real deliveries: signed webhook and SMTP
#   oauth-flow.mjs    signIn.social with a generic OIDC provider and built-in GitHub (fakes)
#   admin-flow.mjs    adminClient's tour; the first admin made by `sesame user create` (SQLite, PostgreSQL)
#   interop-pg.mjs    Better Auth itself on the same PostgreSQL database (users, cookies)
#   two-factor-interop-pg.mjs  ... and its twoFactor plugin: authenticators and backup codes both ways
#   passwordless-interop-pg.mjs  ... and its magicLink and anonymous plugins: links and guests both ways
#   cors-browser.mjs  headless Chromium: a page on a second origin uses the client (CORS)
#   proxy-flow.mjs    through nginx and Caddy (deploy/'s configurations) with TLS under /auth
# Without Node.js it skips with a message, except in CI, where it fails. PostgreSQL runs
# when it answers (always in CI: .ci/run starts it).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1; then
  if [ -n "${CI:-}" ]; then echo "node is required in CI for the JS client test" >&2; exit 1; fi
  echo "SKIP: node not found, the official JS client test did not run" >&2
  exit 0
fi
[ -d node_modules/better-auth ] && [ -d node_modules/oauth2-mock-server ] && [ -d node_modules/pg ] &&
  [ -d node_modules/puppeteer-core ] && [ -d node_modules/esbuild ] || npm ci --no-audit --no-fund >/dev/null
cargo build --quiet --manifest-path ../../Cargo.toml --bin sesame
bin=../../target/debug/sesame
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
secret=js-client-test-secret-0123456789abcdef
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME DATABASE_URL [VAR=value ...]: starts sesame, sets $url, waits until it answers.
# The public URL must name the port before sesame binds it, so a port is picked (bound and
# released) first; should anything else take it meanwhile, sesame exits with "Address already
# in use" and the start is retried on another port (bounded).
start() {
  local name=$1 db=$2; shift 2
  local port pid log="$work/$name.log"
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    env BETTER_AUTH_SECRET=$secret PORT="$port" HOST=127.0.0.1 BETTER_AUTH_URL="http://127.0.0.1:$port" \
      SESAME_BCRYPT_COST=4 DATABASE_URL="$db" "$@" "$bin" serve >"$log" 2>&1 &
    pid=$!
    url="http://127.0.0.1:$port"
    # Readiness is the start-up line (printed once the socket listens) or the process exiting.
    for _ in $(seq 1 600); do
      grep -q "listening on http://127.0.0.1:$port" "$log" && { pids+=("$pid"); return 0; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"; wait "$pid" 2>/dev/null || true
      echo "sesame ($name) did not announce its address within 30 s" >&2; tail -20 "$log" >&2; return 1
    fi
    wait "$pid" 2>/dev/null || true
    grep -q "Address already in use" "$log" || { echo "sesame ($name) exited" >&2; tail -20 "$log" >&2; return 1; }
  done
  echo "sesame ($name): no free port after 5 tries" >&2; return 1
}
# flow SCRIPT [ARGS...] -- NAME DATABASE_URL [VAR=value ...]: a flow whose own servers (a
# webhook sink, a fake provider, a web app) must exist before Sesame starts pointed at them.
# The script listens on ports the system picks and prints `PORTS p1 p2 …` (tests/js/ports.mjs);
# `{1}`, `{2}`, … in the variables become those ports, Sesame starts, and the script reads
# Sesame's URL on stdin. Nothing picks a port and releases it for another process to take.
flow() {
  local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  local name=$1 db=$2; shift 2
  local to from npid tag ports v i
  mkfifo "$work/$name.in" "$work/$name.out"
  node "${args[@]}" <"$work/$name.in" >"$work/$name.out" &
  npid=$!
  exec {to}>"$work/$name.in" {from}<"$work/$name.out"
  if ! read -r -t 120 tag ports <&"$from" || [ "$tag" != PORTS ]; then
    echo "${args[0]} did not announce its ports: $tag $ports" >&2
    exec {to}>&- {from}<&-; kill "$npid" 2>/dev/null; wait "$npid"; return 1
  fi
  local p=($ports) vars=()
  for v in "$@"; do
    for i in "${!p[@]}"; do v=${v//\{$((i + 1))\}/${p[$i]}}; done
    vars+=("$v")
  done
  if ! start "$name" "$db" "${vars[@]}"; then
    exec {to}>&- {from}<&-; kill "$npid" 2>/dev/null; wait "$npid"; return 1
  fi
  echo "$url" >&"$to"
  exec {to}>&-
  cat <&"$from"
  exec {from}<&-
  wait "$npid"
  local rc=$?
  # The flow's Sesame stops with it: on PostgreSQL the durable mail queue is one table, and a
  # server left running would claim the next flows' emails for its own, closed, webhook.
  stop_servers
  return $rc
}
# Stops every Sesame started so far (each loop's servers share its database).
stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}
fail() { echo "--- sesame logs" >&2; tail -n 30 "$work"/*.log >&2; exit 1; }

storages=(memory sqlite)
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  storages+=(postgres)
elif [ -n "${CI:-}" ]; then
  echo "CI: PostgreSQL is required for the JS client test on PostgreSQL" >&2; exit 1
else
  echo "SKIP: PostgreSQL is not answering; the JS client runs on memory storage only" >&2
fi

for storage in "${storages[@]}"; do
  db=memory
  [ "$storage" = sqlite ] && db="sqlite:$work/js.db"
  if [ "$storage" = postgres ]; then
    name="sesame_js_$$"
    psql -h 127.0.0.1 -U postgres -qtAc "drop database if exists $name" >/dev/null
    psql -h 127.0.0.1 -U postgres -qtAc "create database $name" >/dev/null
    db="postgres://postgres@127.0.0.1:5432/$name"
  fi
  echo "== JS client on $storage storage"

  # Limiting stays on, with roomier sign-in rules: the flows sign in many times in a row.
  start "core-$storage" "$db" SESAME_PLUGINS=bearer,username,jwt,open-api \
    SESAME_RATE_LIMIT_RULES="/sign-in*=50/10,/sign-up*=50/10,/change-password*=50/10"
  node client-flow.mjs "$url" && node plugins-flow.mjs "$url" && node jwt-client.mjs "$url" || fail
  if [ "$storage" = memory ]; then
    # The client does not depend on the cookie names: a custom prefix works unchanged.
    start "prefix-$storage" "$db" SESAME_COOKIE_PREFIX=myapp SESAME_RATE_LIMIT=false
    node client-flow.mjs "$url" myapp || fail
  fi
  stop_servers

  # On PostgreSQL the strict rules' buckets live in the database, shared with the server before:
  # the core flow's sign-ups count here too, so sign-up gets the roomier rule as well.
  flow two-factor-flow.mjs -- "two-factor-$storage" "$db" SESAME_PLUGINS=two-factor \
    SESAME_EMAIL_WEBHOOK_URL="http://127.0.0.1:{1}/" SESAME_RATE_LIMIT_RULES="/two-factor/*=50/10,/sign-in*=50/10,/sign-up*=50/10" || fail

  flow magic-link-flow.mjs -- "magic-link-$storage" "$db" SESAME_PLUGINS=magic-link \
    SESAME_EMAIL_WEBHOOK_URL="http://127.0.0.1:{1}/" SESAME_RATE_LIMIT=false || fail
  flow anonymous-flow.mjs -- "anonymous-$storage" "$db" SESAME_PLUGINS=anonymous,magic-link \
    SESAME_EMAIL_WEBHOOK_URL="http://127.0.0.1:{1}/" SESAME_RATE_LIMIT=false || fail

  flow email-otp-flow.mjs -- "email-otp-$storage" "$db" SESAME_PLUGINS=email-otp \
    SESAME_EMAIL_WEBHOOK_URL="http://127.0.0.1:{1}/" SESAME_EMAIL_RECIPIENT_LIMIT=50/3600 \
    SESAME_RATE_LIMIT_RULES="/sign-in*=50/10,/email-otp/*=50/10,/forget-password*=50/10" || fail

  mail_flags=(SESAME_SEND_VERIFICATION_ON_SIGN_UP=true SESAME_CHANGE_EMAIL=true SESAME_DELETE_USER=true SESAME_RATE_LIMIT=false)
  flow email-flow.mjs webhook "$secret" -- "webhook-$storage" "$db" "${mail_flags[@]}" \
    SESAME_EMAIL_WEBHOOK_URL="http://127.0.0.1:{1}/" || fail

  mkdir -p "$work/smtp-$storage"
  coproc SMTP { exec python3 ../smtp_sink.py "$work/smtp-$storage" mailer mailpass; }
  pids+=("$SMTP_PID")
  read -r ready smtp_port <&"${SMTP[0]}"
  [ "$ready" = READY ] || { echo "the SMTP sink did not start (pip install aiosmtpd)" >&2; exit 1; }
  start "smtp-$storage" "$db" "${mail_flags[@]}" SESAME_SMTP_URL="smtp://mailer:mailpass@127.0.0.1:$smtp_port?tls=none" \
    SESAME_EMAIL_FROM="Sesame <no-reply@example.com>"
  node email-flow.mjs smtp "$work/smtp-$storage" "$url" || fail

  flow oauth-flow.mjs -- "oauth-$storage" "$db" SESAME_RATE_LIMIT=false \
    SESAME_OIDC_PROVIDERS=mock SESAME_OIDC_MOCK_ISSUER="http://127.0.0.1:{1}" \
    SESAME_OIDC_MOCK_CLIENT_ID=harness-client SESAME_OIDC_MOCK_CLIENT_SECRET=harness-secret \
    GITHUB_CLIENT_ID=gh-client GITHUB_CLIENT_SECRET=gh-secret \
    SESAME_GITHUB_AUTHORIZATION_URL="http://127.0.0.1:{1}/authorize" \
    SESAME_GITHUB_TOKEN_URL="http://127.0.0.1:{1}/token" \
    SESAME_GITHUB_USERINFO_URL="http://127.0.0.1:{1}/userinfo" \
    SESAME_GITHUB_EMAILS_URL="http://127.0.0.1:{2}/user/emails" || fail

  if [ "$storage" != memory ]; then
    admin_email="js_root_$$@example.com"
    echo "correct-horse-battery" | env BETTER_AUTH_SECRET=$secret SESAME_BCRYPT_COST=4 DATABASE_URL="$db" \
      "$bin" user create --email "$admin_email" --role admin --password-stdin >/dev/null 2>"$work/user-$storage.log" \
      || { cat "$work/user-$storage.log" >&2; exit 1; }
    start "admin-$storage" "$db" SESAME_PLUGINS=admin SESAME_RATE_LIMIT=false
    node admin-flow.mjs "$url" "$admin_email" correct-horse-battery || fail
  fi

  if [ "$storage" = postgres ]; then
    start "interop-$storage" "$db" SESAME_PASSWORD_HASH=scrypt SESAME_RATE_LIMIT=false \
      SESAME_PLUGINS=two-factor,magic-link,anonymous
    node interop-pg.mjs "$url" "$db" "$secret" && node two-factor-interop-pg.mjs "$url" "$db" "$secret" &&
      node passwordless-interop-pg.mjs "$url" "$db" "$secret" || fail
  fi

  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
  if [ "$storage" = postgres ]; then
    psql -h 127.0.0.1 -U postgres -qtAc "drop database if exists $name with (force)" >/dev/null
  fi
done
# A real browser: Debian's chromium (CI installs it; elsewhere the test skips without it).
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -n "$chromium" ]; then
  echo "== headless Chromium on a second origin (CORS)"
  export CHROMIUM=$chromium
  flow cors-browser.mjs -- "browser" "sqlite:$work/browser.db" \
    BETTER_AUTH_TRUSTED_ORIGINS="http://localhost:{1}" > >(grep -v '^  \[page') || fail
elif [ -n "${CI:-}" ]; then
  echo "CI: chromium is required for the browser test (apt-get install chromium)" >&2; exit 1
else
  echo "SKIP: chromium not found, the browser CORS test did not run" >&2
fi
# Behind real reverse proxies: nginx and Caddy with deploy/'s configurations, TLS on a
# self-signed certificate, Sesame under /auth (CI installs them; elsewhere the test skips).
if command -v nginx >/dev/null && command -v caddy >/dev/null && command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
  # A proxy must listen on the port its public URL names, so the port is picked (bound and
  # released) first; should anything take it meanwhile, the proxy fails to bind and the start is
  # retried, Sesame included, on another port (bounded).
  start_proxy() {
    local proxy=$1
    tls_port=$(free_port); mkdir -p "$work/$proxy"
    public="https://127.0.0.1:$tls_port/auth/api/auth"
    start "behind-$proxy" "sqlite:$work/$proxy.db" BETTER_AUTH_URL="$public" SESAME_TRUSTED_PROXIES=127.0.0.1 \
      GITHUB_CLIENT_ID=gh-client GITHUB_CLIENT_SECRET=gh-secret || return 1
    local sesame_pid=${pids[-1]} sesame_port=${url##*:}
    if [ "$proxy" = nginx ]; then
      sed -e "s|listen 443 ssl;|listen 127.0.0.1:$tls_port ssl;|" -e '/listen \[::\]:443/d' \
        -e "s|/etc/letsencrypt/live/auth.example.com/fullchain.pem|$work/cert.pem|" \
        -e "s|/etc/letsencrypt/live/auth.example.com/privkey.pem|$work/key.pem|" \
        -e "s|127.0.0.1:3000|127.0.0.1:$sesame_port|" ../../deploy/nginx.conf >"$work/nginx/site.conf"
      d="$work/nginx"
      cat >"$d/main.conf" <<CONF
pid $d/nginx.pid;
error_log $d/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fcgi;
  uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  include $d/site.conf;
}
CONF
      nginx -p "$d" -c "$d/main.conf" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
    else
      {
        printf '{\n\tadmin off\n\tauto_https disable_redirects\n\tstorage file_system %s\n}\n' "$work/caddy/data"
        sed -e "s|^auth.example.com {|https://127.0.0.1:$tls_port {\n\ttls $work/cert.pem $work/key.pem|" \
          -e "s|127.0.0.1:3000|127.0.0.1:$sesame_port|" ../../deploy/Caddyfile
      } >"$work/caddy/Caddyfile"
      HOME="$work/caddy" XDG_CONFIG_HOME="$work/caddy" XDG_DATA_HOME="$work/caddy" \
        caddy run --config "$work/caddy/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
    fi
    local proxy_pid=$!
    pids+=("$proxy_pid")
    # Ready once it answers through to Sesame, or failed once it exits.
    for _ in $(seq 1 100); do
      curl -fs --cacert "$work/cert.pem" "$public/ok" >/dev/null 2>&1 && return 0
      kill -0 "$proxy_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$proxy_pid" "$sesame_pid" 2>/dev/null; wait "$proxy_pid" "$sesame_pid" 2>/dev/null
    grep -qi "address already in use" "$work/$proxy.log" "$work/$proxy/error.log" 2>/dev/null && return 2
    echo "$proxy did not start" >&2; tail -20 "$work/$proxy.log" >&2; return 1
  }
  for proxy in nginx caddy; do
    echo "== behind $proxy (TLS, path prefix /auth)"
    for attempt in 1 2 3 4 5; do
      start_proxy "$proxy" && break
      [ $? -eq 2 ] && [ "$attempt" -lt 5 ] || fail
    done
    node proxy-flow.mjs "$public" "$work/cert.pem" || fail
  done
elif [ -n "${CI:-}" ]; then
  echo "CI: nginx, caddy and openssl are required for the reverse-proxy test" >&2; exit 1
else
  echo "SKIP: nginx or caddy not found, the reverse-proxy test did not run" >&2
fi
echo "js client suite: all flows passed on ${storages[*]}"
