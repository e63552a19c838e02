#!/usr/bin/env python3
"""`make soak`: the real release binary under a long, mixed load with faults (not part of
`make test`; RELIABILITY.md has the recorded runs).

For each storage (SQLite, PostgreSQL) for SOAK_MINUTES (default 30; `--smoke`: 3 minutes):

  - ~200 keep-alive connections (asyncio, one event loop), each a user that waits a random
    think time (mean 2 s, at most 8 s) between requests: get-session (with a session cookie when it has
    one), sign-up, sign-in, sign-out, password reset (the mail path, to a webhook sink), and bad
    requests (malformed JSON, a wrong password, an unknown path, a garbage cookie);
  - faults: the mail sink stopped and started again (an outage of 8 % of the run, at least
    15 s), PostgreSQL stopped and started again (PostgreSQL runs only: a PRIVATE cluster this
    script creates with initdb under /tmp on a free port, never the shared server), and a
    connection flood (1000 connections from 127.0.0.2, held open, then closed);
  - sampled every 5 s: the server's RSS (anonymous and file-backed apart), threads and open files, and per 5 s window the
    requests, errors and latency percentiles;
  - at the end: errors by kind (only 503s while PostgreSQL is down are expected), RSS and
    threads flat (mean of the last third within 5 % of the first third), emails queued (reset
    answers 200) vs delivered (distinct links the sink received, and `sesame_mail_sent_total`),
    equal once the outbox drained; every sign-up answered 200 present in the database.

Writes bench/out/soak-<storage>.json and .png (RSS, threads and latency over time). Exit status
1 when a check failed. Only 127.0.0.1/127.0.0.2 are targeted; every wait is bounded.

  SOAK_MINUTES=30 python3 bench/soak.py              # both storages, one after the other
  python3 bench/soak.py --smoke --storage sqlite      # a 3-minute smoke run

The server inherits this environment, so glibc's allocator can be tuned for a run, e.g.
`GLIBC_TUNABLES=glibc.malloc.tcache_count=0` (no per-thread caches: RELIABILITY.md, RSS).
"""
import argparse
import asyncio
import http.server
import json
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "soak-secret-0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "soak-password-123"
SAMPLE_EVERY = 5.0
# The mix, by weight.
# Password hashing (sign-in, sign-up, a wrong password) is about a tenth of the requests.
MIX = [("get_session", 62), ("sign_in", 4), ("sign_up", 4), ("sign_out", 5), ("reset", 8), ("bad", 17)]
# The users' source addresses: 50 connections each, under the default per-address limit (64).
CLIENT_ADDRS = ["127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"]
# The server closes a keep-alive connection idle this long (SESAME_READ_TIMEOUT_SECS); a think
# time is kept below it, as a browser reconnects rather than reuse a connection it knows is gone.
MAX_THINK = 8.0
# What a clean answer is, per action (bad requests by their kind).
EXPECTED = {"get_session": {200}, "sign_in": {200}, "sign_up": {200}, "sign_out": {200}, "reset": {200},
            "bad_json": {400}, "bad_password": {401}, "bad_path": {404}, "bad_cookie": {200}}


def log(*a):
    print(f"[soak {time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_average():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def proc_sample(pid):
    # RSS split: anonymous (heap, the allocator's caches, thread stacks) and file-backed (the
    # binary's code pages, touched once per code path: they grow at the first fault and stop).
    out = {"rss_kb": 0, "rss_anon_kb": 0, "rss_file_kb": 0, "threads": 0, "fds": 0}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_kb"] = int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    out["rss_anon_kb"] = int(line.split()[1])
                elif line.startswith("RssFile:"):
                    out["rss_file_kb"] = int(line.split()[1])
                elif line.startswith("Threads:"):
                    out["threads"] = int(line.split()[1])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


def metric(addr, name):
    """An unlabelled sample of the server's /metrics, or None."""
    try:
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


# ---- the mail sink: a webhook receiver in its own process, stopped and started ----

def webhook_sink_main(port, out_path):
    """`soak.py --webhook-sink PORT FILE`: answers 200 to every POST and appends its JSON
    (kind, to, url) as one line to FILE."""
    lock = threading.Lock()
    out = open(out_path, "a", buffering=1)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            try:
                j = json.loads(body)
                line = json.dumps({"kind": j.get("kind"), "to": j.get("to"), "url": j.get("url")})
            except ValueError:
                line = json.dumps({"bad": body[:100].decode(errors="replace")})
            with lock:
                out.write(line + "\n")
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    server.daemon_threads = True
    print("READY", flush=True)
    server.serve_forever()


class Sink:
    def __init__(self, port, path):
        self.port, self.path, self.proc = port, path, None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--webhook-sink", str(self.port),
                                      self.path], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError("the webhook sink did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def received(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [json.loads(l) for l in f if l.strip()]


# ---- a private PostgreSQL cluster (never the shared server) ----

class PrivatePostgres:
    def __init__(self, workdir):
        bins = sorted(d for d in os.listdir("/usr/lib/postgresql"))
        self.bin = f"/usr/lib/postgresql/{bins[-1]}/bin"
        self.dir = os.path.join(workdir, "pgdata")
        self.port = free_port()
        self.sock = workdir
        self._chown(workdir)
        self._run([f"{self.bin}/initdb", "-D", self.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        with open(os.path.join(self.dir, "postgresql.conf"), "a") as f:
            f.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.sock}'\n"
                    "max_connections = 100\nfsync = on\n")
        self.start()
        self._run([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "soak"])
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/soak"

    def _chown(self, path):
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def _run(self, cmd, timeout=120):
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()[-500:]}")

    def start(self):
        self._run([f"{self.bin}/pg_ctl", "-D", self.dir, "-l", os.path.join(self.dir, "log"), "-w", "-t", "60",
                   "start"])

    def stop(self, mode="fast"):
        self._run([f"{self.bin}/pg_ctl", "-D", self.dir, "-m", mode, "-w", "-t", "60", "stop"])

    def query(self, sql):
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "soak",
                               "-tA", "-v", "ON_ERROR_STOP=1"], input=sql, check=True, text=True,
                              capture_output=True, timeout=120).stdout

    def destroy(self):
        try:
            self.stop("immediate")
        except Exception:  # noqa: BLE001 - already stopped
            pass


# ---- a minimal HTTP/1.1 keep-alive client ----

class Conn:
    def __init__(self, port, source):
        self.port, self.source, self.r, self.w = port, source, None, None

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None

    async def request(self, method, path, headers, body=None, timeout=30):
        if self.w is None:
            self.r, self.w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port, local_addr=(self.source, 0)), timeout)
        data = body.encode() if isinstance(body, str) else (body or b"")
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(data)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.w.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        return await asyncio.wait_for(self._answer(), timeout)

    async def _answer(self):
        await self.w.drain()
        status_line = await self.r.readline()
        if not status_line:
            raise ConnectionResetError("closed before the answer")
        status = int(status_line.split()[1])
        headers = []
        while True:
            line = await self.r.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers.append((k.strip().lower(), v.strip()))
        h = dict(headers)
        if h.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.r.readline()).split(b";")[0], 16)
                chunk = await self.r.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.r.readexactly(int(h.get("content-length", "0")))
        if h.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body


class Stats:
    def __init__(self):
        self.requests = 0
        self.by_action = {}
        self.errors = {}          # "action status|exception" -> count (unexpected only)
        self.expected_503 = 0     # 503s while PostgreSQL was down
        self.windows = {}         # window index -> list of latencies (s)
        self.window_errors = {}
        self.signed_up = []       # emails answered 200
        self.resets_ok = 0
        self.cookies = []
        self.outage = False       # PostgreSQL down (or just back)
        self.codes_503 = {}       # the code of every 503 answer
        self.error_events = []    # (t, kind, during a PostgreSQL restart) of unexpected errors

    def record(self, t0, action, status, latency, error=None):
        w = int((time.monotonic() - t0) // SAMPLE_EVERY)
        self.requests += 1
        a = self.by_action.setdefault(action, {})
        key = error or str(status)
        a[key] = a.get(key, 0) + 1
        self.windows.setdefault(w, []).append(latency)
        if error is None and status in EXPECTED.get(action, {200}):
            return
        if error is None and status == 503 and self.outage:
            self.expected_503 += 1
            return
        k = f"{action} {key}"
        self.errors[k] = self.errors.get(k, 0) + 1
        self.window_errors[w] = self.window_errors.get(w, 0) + 1
        if len(self.error_events) < 2000:
            self.error_events.append((round(time.monotonic() - t0, 1), k, self.outage))


def _error_code(body):
    try:
        return json.loads(body).get("code")
    except (ValueError, AttributeError):
        return None


def session_cookie(headers):
    for k, v in headers:
        if k == "set-cookie" and v.startswith("better-auth.session_token="):
            return v.split(";")[0]
    return None


async def user(port, source, origin, stats, t0, end, think):
    conn = Conn(port, source)
    json_h = {"Content-Type": "application/json", "Origin": origin}
    actions, weights = zip(*MIX)
    rng = random.Random()
    await asyncio.sleep(rng.random() * think)
    while time.monotonic() < end:
        action = rng.choices(actions, weights)[0]
        if action == "bad":
            action = rng.choice(["bad_json", "bad_password", "bad_path", "bad_cookie"])
        if action in ("sign_in", "reset") and not stats.signed_up:
            action = "sign_up"
        if action == "sign_out" and not stats.cookies:
            action = "get_session"
        cookie = None
        if action == "get_session":
            req = ("GET", "/api/auth/get-session", {}, None)
            if stats.cookies:
                cookie = rng.choice(stats.cookies)
                req[2]["Cookie"] = cookie
        elif action == "sign_up":
            email = f"soak-{os.getpid()}-{rng.getrandbits(64):016x}@example.com"
            req = ("POST", "/api/auth/sign-up/email", json_h,
                   json.dumps({"name": "Soak", "email": email, "password": PASSWORD}))
        elif action == "sign_in":
            req = ("POST", "/api/auth/sign-in/email", json_h,
                   json.dumps({"email": rng.choice(stats.signed_up), "password": PASSWORD}))
        elif action == "sign_out":
            cookie = stats.cookies.pop(rng.randrange(len(stats.cookies)))
            req = ("POST", "/api/auth/sign-out", dict(json_h, Cookie=cookie), "{}")
        elif action == "reset":
            req = ("POST", "/api/auth/request-password-reset", json_h,
                   json.dumps({"email": rng.choice(stats.signed_up), "redirectTo": "/reset"}))
        elif action == "bad_json":
            req = ("POST", "/api/auth/sign-up/email", json_h, '{"name": "x", "email": ')
        elif action == "bad_password":
            req = ("POST", "/api/auth/sign-in/email", json_h,
                   json.dumps({"email": f"nobody-{rng.getrandbits(32)}@example.com", "password": "wrong-password-1"}))
        elif action == "bad_path":
            req = ("GET", "/api/auth/no-such-endpoint", {}, None)
        else:
            req = ("GET", "/api/auth/get-session", {"Cookie": "better-auth.session_token=forged.value"}, None)
        started = time.monotonic()
        try:
            status, headers, body = await conn.request(*req)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
            conn.close()
            stats.record(t0, action, 0, time.monotonic() - started, error=type(e).__name__)
            await asyncio.sleep(min(MAX_THINK, rng.expovariate(1 / think)))
            continue
        stats.record(t0, action, status, time.monotonic() - started)
        if status == 200:
            if action == "sign_up":
                stats.signed_up.append(email)
            if action in ("sign_up", "sign_in"):
                c = session_cookie(headers)
                if c:
                    stats.cookies.append(c)
                    if len(stats.cookies) > 5000:
                        stats.cookies.pop(0)
            if action == "reset":
                stats.resets_ok += 1
        elif status == 503:
            code = _error_code(body)
            if code:
                stats.codes_503[code] = stats.codes_503.get(code, 0) + 1
        await asyncio.sleep(min(MAX_THINK, rng.expovariate(1 / think)))
    conn.close()


def flood(port, n=1000, hold=20.0):
    """Opens `n` connections from 127.0.0.2 (one address: the per-address limit applies), each
    sending half a request line, holds them, then reads what each got: a 503 at once (over the
    limit), a 408 after the read timeout, or still open."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", port))
            s.send(b"GET /api/auth/ok HT")
            socks.append(s)
        except OSError:
            s.close()
    time.sleep(hold)  # the fault's length, not a synchronisation
    got = {}
    for s in socks:
        try:
            s.setblocking(False)
            data = s.recv(64)
            kind = data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else ("closed" if not data else "other")
        except BlockingIOError:
            kind = "open"
        except OSError as e:
            kind = type(e).__name__
        got[kind] = got.get(kind, 0) + 1
        s.close()
    return {"opened": len(socks), "after_hold": got}


def run_storage(storage, binary, minutes, conns, think, out_dir, bcrypt_cost=10):
    workdir = tempfile.mkdtemp(prefix=f"sesame-soak-{storage}-")
    duration = minutes * 60
    pg = None
    if storage == "postgres":
        pg = PrivatePostgres(workdir)
        url = pg.url
    else:
        db_path = os.path.join(workdir, "soak.db")
        url = f"sqlite:{db_path}"
    sink = Sink(free_port(), os.path.join(workdir, "mail.jsonl"))
    sink.start()
    port, mport = free_port(), free_port()
    origin = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", BETTER_AUTH_SECRET=SECRET, BETTER_AUTH_URL=origin,
               DATABASE_URL=url, SESAME_RATE_LIMIT="false", SESAME_EMAIL_RECIPIENT_LIMIT="off",
               SESAME_METRICS_ADDR=f"127.0.0.1:{mport}",
               SESAME_EMAIL_WEBHOOK_URL=f"http://127.0.0.1:{sink.port}/hook",
               SESAME_MAIL_RETRY_MAX_SECONDS="30", SESAME_BCRYPT_COST=str(bcrypt_cost), SESAME_LOG="warn")
    server_log = open(os.path.join(workdir, "server.log"), "w")
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=server_log)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{origin}/api/auth/ok", timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the server did not start: see {workdir}/server.log")
            time.sleep(0.1)
    log(f"{storage}: server pid {proc.pid} on {port}, {conns} connections, {minutes} min, workdir {workdir}")

    stats = Stats()
    # Fifty users first (one at a time), so the run does not start with 200 sign-ups at once.
    for i in range(50):
        email = f"seed-{i}-{os.getpid()}@example.com"
        req = urllib.request.Request(f"{origin}/api/auth/sign-up/email", method="POST",
                                     data=json.dumps({"name": "Seed", "email": email, "password": PASSWORD}).encode(),
                                     headers={"content-type": "application/json", "origin": origin})
        with urllib.request.urlopen(req, timeout=30) as r:
            if r.status == 200:
                stats.signed_up.append(email)
    samples, faults = [], []
    t0 = time.monotonic()
    end = t0 + duration
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            p = proc_sample(proc.pid)
            p.update(t=round(time.monotonic() - t0, 1), load=load_average()[0],
                     mail_queue=metric(f"127.0.0.1:{mport}", "sesame_mail_queue_depth"),
                     # PostgreSQL's session cache grows with the sessions it has seen (bounded).
                     session_cache_bytes=metric(f"127.0.0.1:{mport}", "sesame_session_cache_bytes"))
            samples.append(p)
            stop.wait(SAMPLE_EVERY)

    def at(frac):
        target = t0 + frac * duration
        while not stop.is_set() and time.monotonic() < target:
            stop.wait(min(1.0, target - time.monotonic()))
        return not stop.is_set()

    def fault_plan():
        outage = max(15.0, 0.08 * duration)
        plan = [(0.15, "mail sink down"), (0.55, "connection flood")]
        if pg:
            plan += [(0.35, "postgres restart"), (0.75, "postgres restart")]
        for frac, what in sorted(plan):
            if not at(frac):
                return
            start = round(time.monotonic() - t0, 1)
            if what == "mail sink down":
                sink.stop()
                stop.wait(outage)  # the outage's length, not a synchronisation
                sink.start()
                faults.append({"t": start, "fault": what, "seconds": round(time.monotonic() - t0 - start, 1)})
            elif what == "postgres restart":
                stats.outage = True
                pg.stop("fast")
                stop.wait(5)  # PostgreSQL stays down five seconds
                pg.start()
                faults.append({"t": start, "fault": what, "seconds": round(time.monotonic() - t0 - start, 1)})
                # 503s stay expected while pooled connections are found broken and replaced.
                stop.wait(10)
                stats.outage = False
            else:
                r = flood(port)
                faults.append(dict({"t": start, "fault": what, "seconds": round(time.monotonic() - t0 - start, 1)}, **r))
            log(f"{storage}: {faults[-1]}")

    threads = [threading.Thread(target=sampler, daemon=True), threading.Thread(target=fault_plan, daemon=True)]
    for th in threads:
        th.start()

    async def load():
        await asyncio.gather(*(user(port, CLIENT_ADDRS[i % len(CLIENT_ADDRS)], origin, stats, t0, end, think)
                               for i in range(conns)))

    asyncio.run(load())
    stop.set()
    for th in threads:
        th.join(timeout=120)
    log(f"{storage}: load done: {stats.requests} requests; draining the outbox")

    # The outbox drains (bounded): every reset answered 200 reaches the sink.
    drain_deadline = time.monotonic() + 300
    depth = None
    while time.monotonic() < drain_deadline:
        depth = metric(f"127.0.0.1:{mport}", "sesame_mail_queue_depth")
        if depth == 0:
            break
        time.sleep(1)
    sent_total = metric(f"127.0.0.1:{mport}", "sesame_mail_sent_total")
    failed_total = metric(f"127.0.0.1:{mport}", "sesame_mail_failed_total")
    received = sink.received()
    reset_urls = [m["url"] for m in received if m.get("kind") == "reset-password"]
    final = proc_sample(proc.pid)

    # Every sign-up answered 200 is in the database.
    emails = set(stats.signed_up)
    if pg:
        stored = set(pg.query('select "email" from "user"').split())
    else:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as c:
            stored = {r[0] for r in c.execute('select "email" from "user"')}
    missing = sorted(emails - stored)

    proc.send_signal(signal.SIGTERM)
    try:
        exit_code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        exit_code = "killed after 60 s"
    sink.stop()
    server_log.close()
    if pg:
        pg.destroy()

    def mean(xs):
        return sum(xs) / len(xs) if xs else 0

    # Flatness: the samples after a 30 s warm-up, outside the faults (and 15 s after each).
    def in_fault(t):
        return any(f["t"] <= t <= f["t"] + f["seconds"] + 15 for f in faults)
    steady = [s for s in samples if 30 <= s["t"] <= duration and not in_fault(s["t"])] or samples
    third = max(1, len(steady) // 3)
    first, last = steady[:third], steady[-third:]
    rss_first, rss_last = mean([s["rss_kb"] for s in first]), mean([s["rss_kb"] for s in last])
    thr_first, thr_last = mean([s["threads"] for s in first]), mean([s["threads"] for s in last])
    windows = []
    for w in sorted(stats.windows):
        lat = sorted(stats.windows[w])
        windows.append({"t": w * SAMPLE_EVERY, "requests": len(lat), "errors": stats.window_errors.get(w, 0),
                        "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))]})
    all_lat = sorted(x for v in stats.windows.values() for x in v)
    result = {
        "storage": storage, "minutes": minutes, "connections": conns, "think_mean_s": think,
        "requests": stats.requests, "rps": stats.requests / duration, "by_action": stats.by_action,
        "unexpected_errors": stats.errors, "expected_503_during_pg_restart": stats.expected_503,
        "codes_503": stats.codes_503, "error_events": stats.error_events,
        "latency_ms": {"p50": 1000 * all_lat[len(all_lat) // 2], "p99": 1000 * all_lat[int(len(all_lat) * 0.99)],
                       "max": 1000 * all_lat[-1]} if all_lat else {},
        "rss_mb": {"first_third": rss_first / 1024, "last_third": rss_last / 1024,
                   "min": min(s["rss_kb"] for s in samples) / 1024, "max": max(s["rss_kb"] for s in samples) / 1024,
                   "drift_pct": 100 * (rss_last - rss_first) / rss_first if rss_first else None,
                   "anon_first_third": mean([s["rss_anon_kb"] for s in first]) / 1024,
                   "anon_last_third": mean([s["rss_anon_kb"] for s in last]) / 1024,
                   "file_first_third": mean([s["rss_file_kb"] for s in first]) / 1024,
                   "file_last_third": mean([s["rss_file_kb"] for s in last]) / 1024},
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        "bcrypt_cost": bcrypt_cost,
        "threads": {"first_third": thr_first, "last_third": thr_last, "max": max(s["threads"] for s in samples)},
        "fds": {"first": samples[0]["fds"], "max": max(s["fds"] for s in samples), "last": samples[-1]["fds"],
                "after_drain": final["fds"]},
        "mail": {"resets_answered_200": stats.resets_ok, "delivered_reset_emails": len(reset_urls),
                 "distinct_reset_links": len(set(reset_urls)), "sent_total": sent_total, "failed_total": failed_total,
                 "queue_depth_at_end": depth},
        "sign_ups": {"answered_200": len(emails), "missing_in_database": len(missing), "missing_sample": missing[:5]},
        "faults": faults, "server_exit": exit_code, "load_average_end": load_average(),
        "samples": samples, "windows": windows,
    }
    checks = [
        ("no unexpected errors", not stats.errors),
        ("RSS flat (last third within 5 % of the first)", abs(result["rss_mb"]["drift_pct"] or 0) <= 5),
        ("threads flat", abs(thr_last - thr_first) <= 2),
        ("every reset email delivered once", stats.resets_ok == len(reset_urls) == len(set(reset_urls))
         and depth == 0),
        ("every 200 sign-up in the database", not missing),
        ("clean exit", exit_code == 0),
    ]
    result["checks"] = {name: ok for name, ok in checks}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"soak-{storage}.json"), "w") as f:
        json.dump(result, f, indent=1)
    plot(result, os.path.join(out_dir, f"soak-{storage}.png"))
    shutil.rmtree(workdir, ignore_errors=True) if all(ok for _, ok in checks) else log(f"kept {workdir}")
    return result


def plot(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, dpi=80)
    t = [s["t"] / 60 for s in r["samples"]]
    ax1.plot(t, [s["rss_kb"] / 1024 for s in r["samples"]], label="RSS (MB)", color="tab:blue")
    ax1.set_ylabel("RSS (MB)")
    ax1.set_ylim(bottom=0)
    ax1b = ax1.twinx()
    ax1b.plot(t, [s["threads"] for s in r["samples"]], label="threads", color="tab:gray", linestyle="--")
    ax1b.set_ylabel("threads")
    ax1b.set_ylim(bottom=0)
    wt = [w["t"] / 60 for w in r["windows"]]
    ax2.plot(wt, [w["p50_ms"] for w in r["windows"]], label="p50", color="tab:green")
    ax2.plot(wt, [w["p99_ms"] for w in r["windows"]], label="p99", color="tab:red")
    ax2.set_yscale("log")
    ax2.set_ylabel("latency per 5 s (ms)")
    ax2.set_xlabel("minutes")
    ax2.legend(loc="upper right")
    for f in r["faults"]:
        for ax in (ax1, ax2):
            ax.axvspan(f["t"] / 60, (f["t"] + f["seconds"]) / 60, color="orange", alpha=0.25)
    ax1.set_title(f"sesame soak, {r['storage']}: {r['connections']} connections, {r['minutes']} min "
                  f"(shaded: faults)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def summary_text(r):
    lines = [f"== {r['storage']}: {r['minutes']} min, {r['connections']} connections: {r['requests']} requests "
             f"({r['rps']:.0f}/s), latency p50 {r['latency_ms'].get('p50', 0):.1f} ms p99 "
             f"{r['latency_ms'].get('p99', 0):.1f} ms max {r['latency_ms'].get('max', 0):.0f} ms",
             f"   unexpected errors: {r['unexpected_errors'] or 'none'}; 503 during PostgreSQL restarts: "
             f"{r['expected_503_during_pg_restart']}; 503 codes: {r['codes_503']}",
             f"   RSS MB first third {r['rss_mb']['first_third']:.1f}, last third {r['rss_mb']['last_third']:.1f} "
             f"({r['rss_mb']['drift_pct']:+.1f} %), max {r['rss_mb']['max']:.1f} (anonymous "
             f"{r['rss_mb']['anon_first_third']:.1f} → {r['rss_mb']['anon_last_third']:.1f}, file-backed "
             f"{r['rss_mb']['file_first_third']:.1f} → {r['rss_mb']['file_last_third']:.1f}); threads {r['threads']['first_third']:.0f}"
             f" → {r['threads']['last_third']:.0f} (max {r['threads']['max']}); fds {r['fds']}",
             f"   mail: {r['mail']}", f"   sign-ups: {r['sign_ups']}", f"   faults: {r['faults']}",
             f"   server exit {r['server_exit']}, load average at end {r['load_average_end']}"]
    lines += [f"   [{'ok' if ok else 'FAILED'}] {name}" for name, ok in r["checks"].items()]
    return "\n".join(lines)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--webhook-sink":
        webhook_sink_main(int(sys.argv[2]), sys.argv[3])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "30")))
    ap.add_argument("--smoke", action="store_true", help="a 3-minute run")
    ap.add_argument("--storage", action="append", choices=["sqlite", "postgres"], default=[])
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--bcrypt-cost", type=int, default=10, help="SESAME_BCRYPT_COST of the server (10: its default)")
    ap.add_argument("--think", type=float, default=2.0, help="mean seconds between a connection's requests")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "sesame"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    args = ap.parse_args()
    minutes = 3 if args.smoke else args.minutes
    # 200 connections, a 1000-connection flood, and the server's own (it inherits the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    ok = True
    for storage in args.storage or ["sqlite", "postgres"]:
        r = run_storage(storage, args.binary, minutes, args.connections, args.think, args.out, args.bcrypt_cost)
        print(summary_text(r), flush=True)
        ok &= all(r["checks"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
