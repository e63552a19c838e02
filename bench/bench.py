#!/usr/bin/env python3
"""Sesame's side-by-side benchmark (`make bench`).

Builds Sesame in release mode, starts it on memory, PostgreSQL and SQLite storage, starts the reference
Better Auth server (../shared/reference, copied to a temporary folder) on the same two storages
when Node is available, and measures in one run:

  1. get-session with a valid cookie and sign-in, for every target, with the reference's own
     bench.mjs (wrk; 1000 seeded users, 32 / 8 keep-alive connections);
  2. a mixed load: get-session (32 connections) while a sign-in storm (8 connections) runs;
  3. Sesame's RSS idle and under get-session load, and the time from start to first answer;
  4. PostgreSQL get-session p50 with 1 000 users vs 1 000 000 users (seeded in bulk with SQL);
  5. the overload scenario (`bench/overload.py`): get-session hammered by 150 connections while
     6 sign in and 20 post malformed sign-ups, on SQLite and PostgreSQL, against the hash limit;
  6. the session cache (`bench/cache.py`): PostgreSQL get-session with and without it, next to
     memory and the reference; revocation latency between two instances; RSS with 100 000
     cached sessions.

Only 127.0.0.1 is targeted, and every run is bounded in time. Sesame hashes new passwords with
Better Auth's scrypt (SESAME_PASSWORD_HASH=scrypt), so sign-in costs the same as the reference's.
Results: a markdown table on stdout and bench/out/summary.json.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import overload
from common import http, psql

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.abspath(os.path.join(ROOT, "..", "shared", "reference"))
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "sesame_bench"
SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, text=True, capture_output=True, **kw).stdout


class Target:
    def __init__(self, label, port, proc, sesame):
        self.label, self.port, self.proc, self.sesame = label, port, proc, sesame
        self.origin = f"http://127.0.0.1:{port}"
        self.auth = f"{self.origin}/api/auth"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wait_ready(url, timeout=60):
    """Milliseconds until `url` first answers 200."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return (time.monotonic() - start) * 1000
        except Exception:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_sesame(label, port, database_url, workdir):
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", BETTER_AUTH_SECRET=SECRET,
               BETTER_AUTH_URL=f"http://127.0.0.1:{port}", DATABASE_URL=database_url,
               SESAME_PASSWORD_HASH="scrypt", SESAME_RATE_LIMIT="false")
    logf = open(os.path.join(workdir, f"{label}.log"), "w")
    started = time.monotonic()
    proc = subprocess.Popen([os.path.join(ROOT, "target", "release", "sesame"), "serve"], env=env,
                            stdout=logf, stderr=logf)
    first = wait_ready(f"http://127.0.0.1:{port}/api/auth/ok")
    t = Target(label, port, proc, True)
    t.first_answer_ms = first
    time.sleep(1)
    t.rss_idle_kb = rss_kb(proc.pid)
    log(f"{label}: first answer after {first:.1f} ms, idle RSS {t.rss_idle_kb} kB")
    del started
    return t


def start_reference(label, port, storage, refdir, workdir, database_url=None):
    env = dict(os.environ, PORT=str(port), STORAGE=storage, EMAIL_WEBHOOK_URL="", OAUTH_ISSUER="off",
               LOG_LEVEL="error", BETTER_AUTH_SECRET=SECRET)
    if database_url:
        env["DATABASE_URL"] = database_url
    logf = open(os.path.join(workdir, f"{label}.log"), "w")
    proc = subprocess.Popen(["node", "server.mjs"], cwd=refdir, env=env, stdout=logf, stderr=logf)
    wait_ready(f"http://127.0.0.1:{port}/health", 60)
    return Target(label, port, proc, False)


def wrk(url, lua, conns, duration, workdir, name):
    path = os.path.join(workdir, f"{name}.lua")
    with open(path, "w") as f:
        f.write(lua + LUA_DONE)
    out = subprocess.run(["wrk", "-t", "1", "-c", str(conns), "-d", f"{duration}s", "--timeout", "10s", "-s", path, url],
                         capture_output=True, text=True, timeout=duration + 60).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH_JSON "))
    j = json.loads(line[len("BENCH_JSON "):])
    return {"rps": j["requests"] / (j["duration_us"] / 1e6), "p50_ms": j["p50_us"] / 1000, "p99_ms": j["p99_us"] / 1000,
            "max_ms": j["max_us"] / 1000, "errors": j["errors"], "non2xx": j["non2xx"],
            "command": f"wrk -t 1 -c {conns} -d {duration}s --timeout 10s -s {name}.lua {url}"}


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def get_session_lua(cookie):
    return f'wrk.method = "GET"\nwrk.headers["Cookie"] = {lua_str(cookie)}\n'


def sign_in_lua(t, emails, password):
    bodies = ",\n".join(lua_str(json.dumps({"email": e, "password": password})) for e in emails)
    return f"""
local bodies = {{ {bodies} }}
local n = #bodies
local i = 0
local headers = {{ ["Content-Type"] = "application/json", ["Origin"] = {lua_str(t.origin)} }}
request = function()
  i = i + 1
  return wrk.format("POST", "/api/auth/sign-in/email", headers, bodies[(i % n) + 1])
end
"""


def seed_users(t, n, tag):
    emails = [f"{tag}-{i}-{os.getpid()}@bench.example" for i in range(n)]
    password = "bench-password-123"
    lock = threading.Lock()
    queue = list(emails)

    def work():
        while True:
            with lock:
                if not queue:
                    return
                e = queue.pop()
            status, _, body = http("POST", f"{t.auth}/sign-up/email", {"name": "B", "email": e, "password": password},
                                   {"origin": t.origin})
            if status != 200:
                raise RuntimeError(f"{t.label}: sign-up {status} {body[:200]}")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return emails, password


def session_cookie(t, email, password):
    status, headers, body = http("POST", f"{t.auth}/sign-in/email", {"email": email, "password": password}, {"origin": t.origin})
    if status != 200:
        raise RuntimeError(f"{t.label}: sign-in {status} {body[:200]}")
    for line in headers.get_all("set-cookie") or []:
        pair = line.split(";")[0].strip()
        if pair.startswith("better-auth.session_token="):
            return pair
    raise RuntimeError(f"{t.label}: sign-in set no session cookie")


def mixed_load(t, duration, workdir):
    """get-session (32 conns) while sign-in (8 conns) saturates hashing."""
    emails, password = seed_users(t, 40, f"mixed-{t.label}")
    cookie = session_cookie(t, emails[0], password)
    result = {}

    def storm():
        result["sign_in"] = wrk(f"{t.auth}/sign-in/email", sign_in_lua(t, emails, password), 8, duration + 2, workdir,
                                f"{t.label}-mixed-sign-in")

    th = threading.Thread(target=storm)
    th.start()
    time.sleep(1)  # let the storm saturate hashing first
    result["get_session"] = wrk(f"{t.auth}/get-session", get_session_lua(cookie), 32, duration, workdir,
                                f"{t.label}-mixed-get-session")
    th.join()
    return result


def rss_under_load(t, duration, workdir):
    emails, password = seed_users(t, 1, f"rss-{t.label}")
    cookie = session_cookie(t, emails[0], password)
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb(t.proc.pid))
            time.sleep(0.1)

    th = threading.Thread(target=sample)
    th.start()
    run = wrk(f"{t.auth}/get-session", get_session_lua(cookie), 32, duration, workdir, f"{t.label}-rss")
    stop.set()
    th.join()
    return peak[0], run


def bulk_seed(total):
    """Tops the bench database up to `total` users, each with one live session, with SQL."""
    have = int(psql('select count(*) from "user"', PG_BENCH_DB))
    if have >= total:
        return
    psql(f"""insert into "user" ("id","name","email","emailVerified","createdAt","updatedAt")
      select 'bulk' || g, 'Bulk ' || g, 'bulk' || g || '@bench.example', false, now(), now()
      from generate_series({have + 1}, {total}) g;
    insert into "session" ("id","token","userId","expiresAt","createdAt","updatedAt","ipAddress","userAgent")
      select 'bulks' || g, md5(g::text), 'bulk' || g, now() + interval '7 days', now(), now(), '', ''
      from generate_series({have + 1}, {total}) g;
    analyze;""", PG_BENCH_DB)


def pg_scale(t, duration, workdir):
    """get-session p50 with 1 000 users, then after bulk-seeding to 1 000 000 users."""
    emails, password = seed_users(t, 1, "scale")
    cookie = session_cookie(t, emails[0], password)
    bulk_seed(1000)
    small_users = int(psql('select count(*) from "user"', PG_BENCH_DB))
    small = wrk(f"{t.auth}/get-session", get_session_lua(cookie), 32, duration, workdir, "pg-scale-small")
    log("seeding 1 000 000 users and sessions with SQL")
    started = time.monotonic()
    bulk_seed(1_000_000)
    seeded = time.monotonic() - started
    large_users = int(psql('select count(*) from "user"', PG_BENCH_DB))
    large = wrk(f"{t.auth}/get-session", get_session_lua(cookie), 32, duration, workdir, "pg-scale-large")
    return {"small_users": small_users, "large_users": large_users, "seed_seconds": seeded, "small": small, "large": large}


def main():
    ap = argparse.ArgumentParser()
    # 300 (not the reference RESULTS.md's 1000) keeps `make bench` under 10 minutes on a fresh
    # 2-core machine: seeding is bound by scrypt on both servers (~1000 users ≈ 5 minutes).
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--side-duration", type=int, default=6,
                    help="seconds of each mixed-load, RSS and 1M-user run (the main runs use --duration)")
    ap.add_argument("--no-reference", action="store_true", help="measure Sesame only")
    ap.add_argument("--no-scale", action="store_true", help="skip the 1 000 000-user PostgreSQL run")
    ap.add_argument("--overload-duration", type=int, default=40,
                    help="seconds of each overload segment (0: skip the scenario)")
    ap.add_argument("--overload-rounds", type=int, default=3, help="overload segments per binary and storage")
    ap.add_argument("--overload-before", metavar="PATH",
                    help="another sesame binary (e.g. an older build) to run the overload scenario with too")
    ap.add_argument("--no-cache", action="store_true", help="skip the session-cache step (bench/cache.py)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    args = ap.parse_args()
    started = time.monotonic()

    if shutil.which("wrk") is None:
        log("installing wrk")
        subprocess.run("apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)",
                       shell=True, check=True)
    log("building Sesame (release)")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "sesame", "--example", "hash_time"], cwd=ROOT, check=True)
    hashes = [json.loads(l) for l in sh(f"{ROOT}/target/release/examples/hash_time").splitlines()]
    scrypt_ms = next(h["ms"] for h in hashes if h["scheme"] == "scrypt")
    cores = os.cpu_count() or 1

    subprocess.run(["bash", os.path.join(ROOT, ".ci", "postgres-up")], check=True, capture_output=True)
    psql(f"drop database if exists {PG_BENCH_DB} with (force)")
    psql(f"create database {PG_BENCH_DB}")

    workdir = tempfile.mkdtemp(prefix="sesame-bench-")
    targets = []
    main_results, main_table, mixed, rss, scale, failures = {}, "", {}, {}, None, []

    def phase(name, fn):
        """Runs one measurement; a failure is reported and the other phases still run."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - any failure of a phase is reported, not fatal
            log(f"{name} failed: {e}")
            failures.append(f"{name}: {e}")
            return None

    node = shutil.which("node") is not None and os.path.isdir(REFERENCE) and not args.no_reference
    try:
        targets.append(start_sesame("sesame-memory", 3200, "memory", workdir))
        targets.append(start_sesame("sesame-postgres", 3201,
                                    f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}", workdir))
        targets.append(start_sesame("sesame-sqlite", 3202, f"sqlite:{os.path.join(workdir, 'bench.db')}", workdir))
        if node:
            refdir = os.path.join(workdir, "reference")
            shutil.copytree(REFERENCE, refdir)
            subprocess.run("chmod -R u+w . && npm ci --no-audit --no-fund --silent", shell=True, cwd=refdir, check=True)
            subprocess.run(["bash", "setup-postgres.sh"], cwd=refdir, check=True, capture_output=True)
            ref_db = "postgres://ba:ba@127.0.0.1:5432/ba_ref"
            subprocess.run(["node", "db.mjs", "reset", ref_db], cwd=refdir, check=True, capture_output=True)
            targets.append(start_reference("ref-memory", 3100, "memory", refdir, workdir))
            targets.append(start_reference("ref-postgres", 3101, "postgres", refdir, workdir, ref_db))
        else:
            log("Node or the reference server is not available: measuring Sesame only (no ratios)")

        # 1. the reference's own benchmark over every target, one invocation
        bench_mjs = os.path.join(workdir, "reference", "bench", "bench.mjs") if node else None
        if bench_mjs:
            cmd = ["node", bench_mjs, "--users", str(args.users), "--duration", str(args.duration),
                   "--warmup", str(args.warmup), "--out", os.path.join(workdir, "out")]
            for t in targets:
                cmd += ["--target", f"{t.label}={t.origin}"]
            log("running bench.mjs:", " ".join(cmd[2:]))
            table = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1200).stdout
            out_dir = os.path.join(workdir, "out")
            report = json.load(open(os.path.join(out_dir, sorted(os.listdir(out_dir))[-1])))
            for r in report["results"]:
                main_results[r["label"]] = r
            main_table = table

        # 2. mixed load, 3. RSS under load
        for t in targets:
            result = phase(f"mixed load on {t.label}", lambda t=t: mixed_load(t, args.side_duration, workdir))
            if result:
                mixed[t.label] = result
        for t in targets:
            if t.sesame:
                measured = phase(f"RSS on {t.label}", lambda t=t: rss_under_load(t, args.side_duration, workdir))
                if measured:
                    rss[t.label] = {"idle_kb": t.rss_idle_kb, "load_kb": measured[0],
                                    "first_answer_ms": t.first_answer_ms, "run": measured[1]}
        # 4. PostgreSQL at 1 000 000 users
        if not args.no_scale:
            pg = next(t for t in targets if t.label == "sesame-postgres")
            scale = phase("1 000 000 users", lambda: pg_scale(pg, args.side_duration, workdir))
    finally:
        for t in targets:
            t.stop()

    # 5. the overload scenario, once the targets above are stopped
    over = None
    if args.overload_duration > 0:
        binaries = ([("before", args.overload_before)] if args.overload_before else []) + \
            [("sesame", os.path.join(ROOT, "target", "release", "sesame"))]
        over = phase("overload", lambda: overload.run(
            binaries, ["sqlite", "postgres"], args.overload_duration, 10,
            os.path.join(ROOT, "target", "release", "examples", "hash_time"), workdir, rounds=args.overload_rounds))

    # 6. the session cache, once the targets above are stopped
    session_cache = None
    if not args.no_cache:
        import cache
        session_cache = phase("session cache", lambda: cache.run(REFERENCE if node else None, args.side_duration,
                                                                 200, 100_000, workdir))

    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {"cores": cores, "cpu": sh("grep -m1 'model name' /proc/cpuinfo").split(":")[-1].strip()},
        "settings": vars(args),
        "scrypt_ms": scrypt_ms,
        "hash_limit_per_s": cores / (scrypt_ms / 1000),
        "main": main_results,
        "main_table": main_table,
        "mixed": mixed,
        "rss": rss,
        "pg_scale": scale,
        "overload": over,
        "session_cache": session_cache,
        "failures": failures,
        "wall_seconds": time.monotonic() - started,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(report_markdown(summary))
    shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        sys.exit(1)


def report_markdown(s):
    lines = [f"Run {s['date']} on {s['machine']['cores']} cores ({s['machine']['cpu']}), {s['wall_seconds']:.0f} s wall time.", ""]
    if s["main_table"]:
        lines += ["bench.mjs (reference's benchmark, all targets in one invocation):", "", s["main_table"], ""]
    main = s["main"]

    def ratio(a, b, key):
        try:
            return main[a][key]["rps"] / main[b][key]["rps"]
        except (KeyError, ZeroDivisionError, TypeError):
            return None

    lines += ["| target | metric | value | target | met |", "| --- | --- | ---: | ---: | --- |"]
    for storage in ["memory", "postgres", "sqlite"]:
        sl, rl = f"sesame-{storage}", f"ref-{storage}"
        r = ratio(sl, rl, "getSession")
        if r is not None:
            lines.append(f"| {storage} | get-session req/s Sesame ÷ Better Auth | {r:.1f}× | ≥ 50× | {'yes' if r >= 50 else 'NO'} |")
        if sl in main:
            p99 = main[sl]["getSession"]["p99_ms"]
            lines.append(f"| {storage} | get-session p99 (32 conns) | {p99:.2f} ms | ≤ 5 ms | {'yes' if p99 <= 5 else 'NO'} |")
            rps = main[sl]["signIn"]["rps"]
            share = rps / s["hash_limit_per_s"]
            lines.append(f"| {storage} | sign-in req/s ÷ hash limit ({s['hash_limit_per_s']:.1f}/s, scrypt {s['scrypt_ms']:.0f} ms) | "
                         f"{rps:.1f} = {share * 100:.0f} % | ≥ 90 % | {'yes' if share >= 0.9 else 'NO'} |")
            r = ratio(sl, rl, "signIn")
            if r is not None:
                lines.append(f"| {storage} | sign-in req/s Sesame ÷ Better Auth | {r:.2f}× | (same scrypt cost) | - |")
        m = s["mixed"].get(sl)
        if m:
            p99 = m["get_session"]["p99_ms"]
            lines.append(f"| {storage} | mixed: get-session p99 during sign-in storm ({m['sign_in']['rps']:.1f} sign-ins/s) | "
                         f"{p99:.2f} ms | ≤ 10 ms | {'yes' if p99 <= 10 else 'NO'} |")
        rm = s["mixed"].get(rl)
        if rm:
            lines.append(f"| {storage} | mixed, Better Auth: get-session p99 / req/s | {rm['get_session']['p99_ms']:.1f} ms / "
                         f"{rm['get_session']['rps']:.0f} | - | - |")
        rs = s["rss"].get(sl)
        if rs:
            lines.append(f"| {storage} | RSS idle | {rs['idle_kb'] / 1024:.1f} MB | ≤ 20 MB | {'yes' if rs['idle_kb'] <= 20480 else 'NO'} |")
            lines.append(f"| {storage} | RSS under get-session load | {rs['load_kb'] / 1024:.1f} MB | ≤ 64 MB | {'yes' if rs['load_kb'] <= 65536 else 'NO'} |")
            lines.append(f"| {storage} | start to first answer | {rs['first_answer_ms']:.0f} ms | ≤ 100 ms | {'yes' if rs['first_answer_ms'] <= 100 else 'NO'} |")
    sc = s["pg_scale"]
    if sc:
        r = sc["large"]["p50_ms"] / sc["small"]["p50_ms"]
        lines.append(f"| postgres | get-session p50, {sc['large_users']:,} vs {sc['small_users']:,} users | "
                     f"{sc['large']['p50_ms']:.3f} / {sc['small']['p50_ms']:.3f} ms = {r:.2f}× | ≤ 1.5× | {'yes' if r <= 1.5 else 'NO'} |")
    for f in s.get("failures", []):
        lines.append(f"\nFAILED: {f}")
    if s.get("overload"):
        lines += ["", overload.report_markdown(s["overload"])]
    if s.get("session_cache"):
        import cache
        lines += ["", "Session cache (bench/cache.py):", "", cache.report_markdown(s["session_cache"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
