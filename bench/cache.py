#!/usr/bin/env python3
"""The session cache's numbers (step 10 of `make bench`; alone: `make bench-cache`).

Side by side in one run, with the load average next to every number (the machine has 2 cores
that wrk, the servers and PostgreSQL share):

  1. get-session, `wrk -c 32`, on Sesame with memory storage, on PostgreSQL with the session
     cache (the default), on PostgreSQL with `SESAME_SESSION_CACHE=false` (the "before"), and on
     the reference Better Auth on PostgreSQL; plus `/ok` on memory storage;
  2. get-session p99 during a sign-in storm (`wrk -c 8` on sign-in), PostgreSQL with and
     without the cache;
  3. two instances on one database: a session signed out through instance A, polled on
     instance B until it answers `null` — p50/p99 over N revocations; then B's listener is killed
     (`pg_terminate_backend`) and sessions are revoked while it reconnects and after;
  4. RSS of an instance whose cache holds 100 000 sessions of 100 000 users (seeded with SQL,
     each read through a signed cookie), under `wrk -c 32` cycling through them.

  python3 bench/cache.py [--reference /work/ref] [--duration 8] [--revocations 200]
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import bench as b

DB = "sesame_bench_cache"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{DB}"
REF_DB = "postgres://ba:ba@127.0.0.1:5432/ba_ref"


def load():
    return round(os.getloadavg()[0], 2)


def start(label, port, database_url, workdir, **extra):
    """A Sesame target as `make bench` starts them, with `extra` environment added."""
    saved = dict(os.environ)
    os.environ.update({k: str(v) for k, v in extra.items()})
    try:
        return b.start_sesame(label, port, database_url, workdir)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def signed_cookie(token):
    """Better Auth's signed cookie value, as `encodeURIComponent(token.hmac)`."""
    sig = base64.b64encode(hmac.new(b.SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()
    return "better-auth.session_token=" + urllib.parse.quote(f"{token}.{sig}", safe="-_.!~*'()")


class Client:
    """One keep-alive connection to a target."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(self, method, path, body=None, cookie=None):
        headers = {"origin": f"http://127.0.0.1:{self.port}"}
        if cookie:
            headers["cookie"] = cookie
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["content-type"] = "application/json"
        self.conn.request(method, "/api/auth" + path, body=data, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.getheader("set-cookie"), r.read()


def get_session_null(client, cookie):
    status, _, body = client.call("GET", "/get-session", cookie=cookie)
    assert status == 200, status
    return body.strip() == b"null"


def metrics(port):
    with b.urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("sesame_session_cache_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary_ms(values):
    return {"n": len(values), "p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
            "max_ms": max(values), "mean_ms": statistics.mean(values)}


def revocation(a, b_port, n):
    """Signs in through A, reads the session on B until it is cached, signs out through A and
    polls B until it answers null: the milliseconds from A's answer to B's null, n times."""
    ca, cb = Client(a.port), Client(b_port)
    email = f"revoke-{os.getpid()}-{time.time_ns()}@bench.example"
    status, _, _ = ca.call("POST", "/sign-up/email", {"name": "R", "email": email, "password": "bench-password-123"})
    assert status == 200, status
    latencies, polls = [], []
    for _ in range(n):
        status, set_cookie, _ = ca.call("POST", "/sign-in/email", {"email": email, "password": "bench-password-123"})
        assert status == 200, status
        cookie = set_cookie.split(";")[0]
        for _ in range(2):
            assert not get_session_null(cb, cookie)
        status, _, _ = ca.call("POST", "/sign-out", {}, cookie=cookie)
        assert status == 200, status
        done = time.perf_counter()
        count = 0
        while True:
            count += 1
            if get_session_null(cb, cookie):
                break
            if time.perf_counter() - done > 10:
                raise RuntimeError("B still serves a revoked session after 10 s")
        latencies.append((time.perf_counter() - done) * 1000)
        polls.append(count)
    out = summary_ms(latencies)
    out["stale_answers"] = sum(p - 1 for p in polls)
    return out, email


def kill_listener(application_name):
    return int(b.psql(f"select count(pg_terminate_backend(pid)) from pg_stat_activity "
                      f"where application_name = '{application_name} cache listener'", DB).strip() or 0)


def reconnect(a, b_port, email, application_name):
    """Kills B's listener, revokes a session at once (while B reconnects) and measures B's
    staleness; then how long the reconnect took, and revocations after it."""
    ca, cb = Client(a.port), Client(b_port)
    status, set_cookie, _ = ca.call("POST", "/sign-in/email", {"email": email, "password": "bench-password-123"})
    cookie = set_cookie.split(";")[0]
    for _ in range(2):
        assert not get_session_null(cb, cookie)
    before = metrics_port_of_b[0] and metrics(metrics_port_of_b[0])
    killed_at = time.perf_counter()
    assert kill_listener(application_name) == 1
    status, _, _ = ca.call("POST", "/sign-out", {}, cookie=cookie)
    revoked_at = time.perf_counter()
    stale = 0
    while not get_session_null(cb, cookie):
        stale += 1
        if time.perf_counter() - revoked_at > 10:
            raise RuntimeError("B still serves a revoked session 10 s after a listener kill")
    during = (time.perf_counter() - revoked_at) * 1000
    # The reconnect: B's listener LISTENing again (its connect counter moves).
    key = 'sesame_session_cache_listener_events_total{event="connect"}'
    while metrics(metrics_port_of_b[0]).get(key, 0) <= before.get(key, 0):
        if time.perf_counter() - killed_at > 30:
            raise RuntimeError("B's listener did not reconnect within 30 s")
        time.sleep(0.002)
    reconnect_ms = (time.perf_counter() - killed_at) * 1000
    return {"revoked_during_reconnect_ms": during, "stale_answers_during_reconnect": stale,
            "reconnect_ms": reconnect_ms}


metrics_port_of_b = [None]
# Extra environment of instance B (e.g. MALLOC_ARENA_MAX), from CACHE_BENCH_B_ENV="K=V,K=V".
EXTRA_B = dict(kv.split("=", 1) for kv in os.environ.get("CACHE_BENCH_B_ENV", "").split(",") if kv)


def bulk_seed(n):
    """n users with one session each, tokens `c<g>` padded to 32 characters."""
    b.psql(f"""insert into "user" ("id","name","email","emailVerified","createdAt","updatedAt")
      select 'cu' || g, 'Cached ' || g, 'cached' || g || '@bench.example', false, now(), now()
      from generate_series(1, {n}) g;
    insert into "session" ("id","token","userId","expiresAt","createdAt","updatedAt","ipAddress","userAgent")
      select 'cs' || g, lpad('c' || g, 32, 'x'), 'cu' || g, now() + interval '7 days', now(), now(),
             '127.0.0.1', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
      from generate_series(1, {n}) g;
    analyze;""", DB)
    return [("c" + str(g)).rjust(32, "x") for g in range(1, n + 1)]


def rss_with_cached_sessions(t, tokens, duration, workdir):
    """Reads every session once (filling the cache), then samples RSS under a second pass."""
    cookies = [signed_cookie(tok) for tok in tokens]
    lua_list = os.path.join(workdir, "cookies.txt")
    with open(lua_list, "w") as f:
        f.write("\n".join(cookies))
    lua = f"""
local cookies = {{}}
for line in io.lines({b.lua_str(lua_list)}) do cookies[#cookies + 1] = line end
local n = #cookies
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/auth/get-session", {{ ["Cookie"] = cookies[(i % n) + 1] }})
end
"""
    idle_kb = b.rss_kb(t.proc.pid)
    fill = b.wrk(f"{t.auth}/get-session", lua, 32, duration, workdir, "cache-fill")
    filled = metrics(metrics_port_of_b[0])
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], b.rss_kb(t.proc.pid))
            time.sleep(0.1)

    th = threading.Thread(target=sample)
    th.start()
    hot = b.wrk(f"{t.auth}/get-session", lua, 32, duration, workdir, "cache-hot")
    stop.set()
    th.join()
    after = metrics(metrics_port_of_b[0])
    return {"idle_kb": idle_kb, "peak_kb": peak[0], "fill": fill, "hot": hot, "load": load(),
            "entries_after_fill": filled.get('sesame_session_cache_entries{kind="session"}'),
            "users_after_fill": filled.get('sesame_session_cache_entries{kind="user"}'),
            "bytes": after.get("sesame_session_cache_bytes"),
            "hits": after.get('sesame_session_cache_lookups_total{result="hit"}'),
            "misses": after.get('sesame_session_cache_lookups_total{result="miss"}')}


def throughput(targets, duration, workdir):
    """get-session on every target, one after the other after a warm-up, and /ok on memory."""
    out = {}
    for t in targets:
        emails, password = b.seed_users(t, 1, f"tp-{t.label}")
        cookie = b.session_cookie(t, emails[0], password)
        b.wrk(f"{t.auth}/get-session", b.get_session_lua(cookie), 32, 2, workdir, f"{t.label}-warm")
        la = load()
        r = b.wrk(f"{t.auth}/get-session", b.get_session_lua(cookie), 32, duration, workdir, f"{t.label}-gs")
        r["load_before"] = la
        out[t.label] = r
        b.log(f"{t.label}: get-session {r['rps']:.0f} req/s, p99 {r['p99_ms']:.2f} ms (load {la})")
        if t.label == "sesame-memory":
            la = load()
            r = b.wrk(f"{t.auth}/ok", "", 32, duration, workdir, f"{t.label}-ok")
            r["load_before"] = la
            out["sesame-memory /ok"] = r
    return out


PARTS = ("throughput", "mixed", "revocation", "rss")


def run(reference, duration, revocations, sessions, workdir, parts=PARTS):
    b.psql(f"drop database if exists {DB} with (force)")
    b.psql(f"create database {DB}")
    results = {"load_start": load()}
    targets = []
    try:
        mem = start("sesame-memory", 3300, "memory", workdir)
        pg = start("sesame-postgres", 3301, PG_URL + "?application_name=sesame-a", workdir)
        off = start("sesame-postgres-nocache", 3302, PG_URL + "?application_name=sesame-off", workdir,
                    SESAME_SESSION_CACHE="false")
        metrics_port_of_b[0] = 9473
        second = start("sesame-postgres-b", 3303, PG_URL + "?application_name=sesame-b", workdir,
                       SESAME_METRICS_ADDR="127.0.0.1:9473", **EXTRA_B)
        targets = [mem, pg, off, second]
        measured = [mem, pg, off]
        if reference and os.path.isdir(reference) and "throughput" in parts:
            refdir = os.path.join(workdir, "reference")
            shutil.copytree(reference, refdir, symlinks=True)
            if not os.path.isdir(os.path.join(refdir, "node_modules")):
                subprocess.run("npm ci --no-audit --no-fund --silent", shell=True, cwd=refdir, check=True)
            if not b.psql("select 1 from pg_roles where rolname = 'ba'").strip():
                b.psql("create role ba login password 'ba'")
            if not b.psql("select 1 from pg_database where datname = 'ba_ref'").strip():
                b.psql("create database ba_ref owner ba")
            subprocess.run(["node", "db.mjs", "reset", REF_DB], cwd=refdir, check=True, capture_output=True)
            ref = b.start_reference("ref-postgres", 3304, "postgres", refdir, workdir, REF_DB)
            targets.append(ref)
            measured.append(ref)
        results["throughput"] = throughput(measured, duration, workdir) if "throughput" in parts else {}
        results["mixed"] = {}
        for t in [pg, off] if "mixed" in parts else []:
            la = load()
            m = b.mixed_load(t, duration, workdir)
            m["load_before"] = la
            results["mixed"][t.label] = m
            b.log(f"{t.label}: get-session p99 during the sign-in storm {m['get_session']['p99_ms']:.2f} ms (load {la})")
        if "revocation" in parts:
            la = load()
            rev, email = revocation(pg, second.port, revocations)
            rev["load_before"] = la
            results["revocation"] = rev
            b.log(f"revocation A→B over {rev['n']}: p50 {rev['p50_ms']:.2f} ms, p99 {rev['p99_ms']:.2f} ms (load {la})")
            la = load()
            rec = reconnect(pg, second.port, email, "sesame-b")
            rec["load_before"] = la
            after, _ = revocation(pg, second.port, 20)
            rec["after_reconnect"] = after
            results["reconnect"] = rec
            b.log(f"reconnect: {rec} (load {la})")
        if "rss" in parts:
            tokens = bulk_seed(sessions)
            la = load()
            r = rss_with_cached_sessions(second, tokens, max(duration, 15), workdir)
            r["load_before"] = la
            results["rss_cached"] = r
            b.log(f"RSS with {r['entries_after_fill']} cached sessions: peak {r['peak_kb'] / 1024:.1f} MB")
    finally:
        for t in targets:
            t.stop()
    results["load_end"] = load()
    return results


def report_markdown(r):
    tp = r["throughput"]
    lines = ["| measurement | value | load avg | target | met |", "| --- | ---: | ---: | ---: | --- |"]

    def row(name, value, la, target="", met=""):
        lines.append(f"| {name} | {value} | {la} | {target} | {met} |")

    for label, v in tp.items():
        row(f"{label} get-session req/s, p99" if "/ok" not in label else f"{label} req/s, p99",
            f"{v['rps']:.0f}, {v['p99_ms']:.2f} ms", v["load_before"])
    mem, pg, off = tp.get("sesame-memory"), tp.get("sesame-postgres"), tp.get("sesame-postgres-nocache")
    ok, ref = tp.get("sesame-memory /ok"), tp.get("ref-postgres")
    if mem and pg:
        ratio = pg["rps"] / mem["rps"]
        row("PostgreSQL (cache) ÷ memory, get-session", f"{ratio * 100:.0f} %", "", "≥ 90 %", "yes" if ratio >= 0.9 else "NO")
    if off and pg:
        row("PostgreSQL cache ÷ no cache, get-session", f"{pg['rps'] / off['rps']:.2f}×", "")
    if ref and pg:
        ratio = pg["rps"] / ref["rps"]
        row("PostgreSQL (cache) ÷ Better Auth on PostgreSQL", f"{ratio:.1f}×", "", "≥ 50×", "yes" if ratio >= 50 else "NO")
    if pg:
        row("PostgreSQL (cache) get-session p99, 32 conns", f"{pg['p99_ms']:.2f} ms", pg["load_before"], "≤ 5 ms",
            "yes" if pg["p99_ms"] <= 5 else "NO")
    if mem and ok:
        ratio = mem["rps"] / ok["rps"]
        row("memory get-session ÷ /ok", f"{ratio * 100:.0f} %", "", "≥ 80 %", "yes" if ratio >= 0.8 else "NO")
    for label, m in r.get("mixed", {}).items():
        p99 = m["get_session"]["p99_ms"]
        row(f"{label}: get-session p99 during sign-in storm ({m['sign_in']['rps']:.1f} sign-ins/s)",
            f"{p99:.2f} ms", m["load_before"], "≤ 10 ms", "yes" if p99 <= 10 else "NO")
    rev = r.get("revocation")
    if rev:
        row(f"revoked on A, null on B: p50 / p99 / max over {rev['n']}",
            f"{rev['p50_ms']:.2f} / {rev['p99_ms']:.2f} / {rev['max_ms']:.2f} ms", rev["load_before"], "≤ 100 ms",
            "yes" if rev["p99_ms"] <= 100 else "NO")
        rec = r["reconnect"]
        row("listener killed: revoked at once, null on B after", f"{rec['revoked_during_reconnect_ms']:.2f} ms "
            f"({rec['stale_answers_during_reconnect']} stale answers)", rec["load_before"], "≤ 1 s",
            "yes" if rec["revoked_during_reconnect_ms"] <= 1000 else "NO")
        row("listener killed → LISTENing again", f"{rec['reconnect_ms']:.0f} ms", rec["load_before"])
        a = rec["after_reconnect"]
        row(f"after the reconnect: p50 / p99 over {a['n']}", f"{a['p50_ms']:.2f} / {a['p99_ms']:.2f} ms", "", "≤ 1 s",
            "yes" if a["max_ms"] <= 1000 else "NO")
    rs = r.get("rss_cached")
    if not rs:
        return "\n".join(lines)
    row(f"RSS with {rs['entries_after_fill']:.0f} sessions / {rs['users_after_fill']:.0f} users cached "
        f"({rs['bytes'] / 1048576:.1f} MiB counted)", f"idle {rs['idle_kb'] / 1024:.1f} MB, peak {rs['peak_kb'] / 1024:.1f} MB",
        rs["load_before"], "≤ 64 MB", "yes" if rs["peak_kb"] <= 65536 else "NO")
    row("…its get-session while filling / all cached", f"{rs['fill']['rps']:.0f} / {rs['hot']['rps']:.0f} req/s", "")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", default=b.REFERENCE)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--revocations", type=int, default=200)
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", action="append", choices=PARTS, help="run only these parts (repeatable)")
    ap.add_argument("--out", default=os.path.join(b.ROOT, "bench", "out"))
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "sesame"], cwd=b.ROOT, check=True)
    workdir = tempfile.mkdtemp(prefix="sesame-cache-bench-")
    started = time.monotonic()
    results = run(args.reference, args.duration, args.revocations, args.sessions, workdir, args.only or PARTS)
    results["wall_seconds"] = time.monotonic() - started
    results["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cache.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"Run {results['date']}, {results['wall_seconds']:.0f} s, load average {results['load_start']} → {results['load_end']}.\n")
    print(report_markdown(results))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
