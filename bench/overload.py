#!/usr/bin/env python3
"""The overload scenario (part of `make bench`; also runs on its own).

On SQLite and on PostgreSQL, with rate limiting off (to measure the server itself) and bcrypt
cost 10 (the default):

  1. the hash limit: cores ÷ one bcrypt-10 verification (`examples/hash_time`), measured in
     this run;
  2. get-session alone: `wrk -c 150` (the throughput the overload run is compared with);
  3. overload: at the same time, 150 connections on get-session, 6 signing in with the right
     password and 20 posting malformed JSON to /sign-up/email, each a `wrk -t 1` with a 10 s
     timeout; RSS, threads and open files sampled every 5 s. The wrk processes run at nice -10
     (when root; OVERLOAD_CLIENT_NICE) so that the server, not their CPU share, is measured.

Several binaries (`--binary label=path`, e.g. before and after a change) run at once and take
turns through rounds (get-session alone, then the overload; alone once more at the end), so
their numbers share the machine's conditions, and each round's share is taken against the alone
segments around it. Only 127.0.0.1 is targeted, and every run is bounded.

Besides the targets, the report gives the share the CPU allows: the server's CPU left for
requests under overload (less hashing's, which the sign-in target fixes at a quarter of the
cores or more) over its CPU alone, times the session checks' part of the answers. A measured
share near it means the requests cost what they cost alone; the gap between them is what
scheduling can still win.

  python3 bench/overload.py --binary after=target/release/sesame --duration 60
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from common import http, psql

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DB = "sesame_overload"
SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "bench-password-123"
SESSION_CONNS, SIGN_IN_CONNS, MALFORMED_CONNS = 150, 6, 20
# The load generators share the server's two cores here; on a deployment they are other
# machines. At equal priority each wrk process gets an equal CPU share, so a wrk driving 20
# connections turns each of them over faster than one driving 150, and the scenario measured
# the clients' shares rather than the server's scheduling (malformed sign-ups got three times
# the answers per connection that session checks got). The clients run at nice -10 when that is
# allowed (root), which gives every connection the same turn at the server
# (`OVERLOAD_CLIENT_NICE=0` measures the old way).
CLIENT_NICE = os.environ.get("OVERLOAD_CLIENT_NICE", "-10" if os.geteuid() == 0 else "0")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CLIENT_PREFIX = ["nice", "-n", CLIENT_NICE] if CLIENT_NICE != "0" else []

# Counts answers by status (per wrk thread, gathered in `done`) and prints one JSON line.
LUA_COUNTING = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
"""
LUA_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  local parts = {}
  for _, t in ipairs(threads or {}) do
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do table.insert(parts, string.format('"%d":%d', k, v)) end
  end
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"non2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ",")))
end
"""


def log(*a):
    print("[overload]", *a, file=sys.stderr, flush=True)


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def proc_sample(pid):
    """RSS (kB; anonymous and file-backed), threads and open files of a process."""
    out = {"rss_kb": 0, "anon_kb": 0, "file_kb": 0, "threads": 0, "fds": 0}
    keys = {"VmRSS:": "rss_kb", "RssAnon:": "anon_kb", "RssFile:": "file_kb", "Threads:": "threads"}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = keys.get(line.split(":")[0] + ":")
                if key:
                    out[key] = int(line.split()[1])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


def free_port():
    """A port nothing listens on now (the kernel's pick), so no fixed port can collide."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_average():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def hash_ms(hash_time):
    """One bcrypt-10 verification, in ms (the example prints one JSON line per scheme)."""
    out = subprocess.run([hash_time], check=True, capture_output=True, text=True, timeout=300).stdout
    return next(json.loads(l)["ms"] for l in out.splitlines() if '"bcrypt10"' in l)


class Server:
    def __init__(self, binary, port, database_url, workdir, label, settings=None):
        env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", BETTER_AUTH_SECRET=SECRET,
                   BETTER_AUTH_URL=f"http://127.0.0.1:{port}", DATABASE_URL=database_url,
                   SESAME_RATE_LIMIT="false",
                   # 176 connections come from one address (the default allows 64).
                   SESAME_MAX_CONNECTIONS_PER_IP="512")
        env.update(settings or {})
        # The access log (one line per request, millions per run) is written as usual but to
        # /dev/null: on disk it would take hundreds of megabytes a run.
        self.log = open(os.devnull, "w")
        self.proc = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=self.log)
        self.origin = f"http://127.0.0.1:{port}"
        self.auth = f"{self.origin}/api/auth"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.auth}/ok", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"{label} did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wrk(url, lua, conns, duration, workdir, name):
    path = os.path.join(workdir, f"{name}.lua")
    with open(path, "w") as f:
        f.write(lua + LUA_DONE)
    out = subprocess.run(CLIENT_PREFIX + ["wrk", "-t", "1", "-c", str(conns), "-d", f"{duration}s", "--timeout", "10s", "-s", path, url],
                         capture_output=True, text=True, timeout=duration + 120).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH_JSON "))
    j = json.loads(line[len("BENCH_JSON "):])
    secs = j["duration_us"] / 1e6
    return {"conns": conns, "requests": j["requests"], "rps": j["requests"] / secs,
            "p50_ms": j["p50_us"] / 1000, "p90_ms": j["p90_us"] / 1000, "p99_ms": j["p99_us"] / 1000,
            "max_ms": j["max_us"] / 1000, "timeouts": j["timeout"],
            "socket_errors": j["connect"] + j["read"] + j["write"], "non2xx": j["non2xx"],
            "statuses": j["statuses"]}


def get_session_lua(cookie):
    return f'wrk.method = "GET"\nwrk.headers["Cookie"] = {lua_str(cookie)}\n'


def sign_in_lua(origin, emails):
    bodies = ", ".join(lua_str(json.dumps({"email": e, "password": PASSWORD})) for e in emails)
    return LUA_COUNTING + f"""
local bodies = {{ {bodies} }}
local i = 0
local headers = {{ ["Content-Type"] = "application/json", ["Origin"] = {lua_str(origin)} }}
request = function()
  i = i + 1
  return wrk.format("POST", "/api/auth/sign-in/email", headers, bodies[(i % #bodies) + 1])
end
"""


def malformed_lua(origin):
    return LUA_COUNTING + f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = {lua_str(origin)}
wrk.body = '{{"name": "x", "email": '
"""


def seed(s, n, tag):
    emails = [f"{tag}-{i}-{os.getpid()}@bench.example" for i in range(n)]
    for e in emails:
        status, _, body = http("POST", f"{s.auth}/sign-up/email", {"name": "B", "email": e, "password": PASSWORD},
                               {"origin": s.origin}, timeout=30)
        if status != 200:
            raise RuntimeError(f"sign-up {status} {body[:200]}")
    status, headers, body = http("POST", f"{s.auth}/sign-in/email", {"email": emails[0], "password": PASSWORD},
                                 {"origin": s.origin}, timeout=30)
    if status != 200:
        raise RuntimeError(f"sign-in {status} {body[:200]}")
    cookie = next(c.split(";")[0].strip() for c in headers.get_all("set-cookie") or []
                  if c.startswith("better-auth.session_token="))
    return emails, cookie


def thread_cpu(pid):
    """CPU seconds used so far by each of the server's threads, with its group (named
    `worker-3`, `hash-1`, …; tiny_http's connection threads carry the process's name)."""
    threads = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        with open(f"/proc/{pid}/comm") as f:
            process = f.read().strip()
    except OSError:
        return threads
    for t in tasks:
        stat = read_stat(f"/proc/{pid}/task/{t}/stat")
        if stat:
            name, used = stat
            name = "connections" if name == process else name.rstrip("0123456789").rstrip("-") or "?"
            threads[t] = (name, used)
    return threads


def process_cpu(pid):
    """CPU seconds used so far by the whole server process, threads that have ended included."""
    stat = read_stat(f"/proc/{pid}/stat")
    return stat[1] if stat else 0.0


def read_stat(path):
    """A process's or thread's name and CPU seconds (user + system) from its `stat` file;
    None once it has ended."""
    try:
        with open(path) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return st[st.index("(") + 1:st.rindex(")")], (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu():
    """CPU seconds of the whole machine so far: idle, softirq (the loopback's packets) and steal
    (taken by the hypervisor), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) / CLOCK_TICKS for x in f.readline().split()[1:9]]
    return {"idle": v[3] + v[4], "softirq": v[6], "steal": v[7]}


class CpuMeter:
    """Where the CPU went during one segment, in cores: the server (the process's own count) and
    its thread groups, the load generators (children of this process) and the machine's idle,
    softirq and steal time."""

    def __init__(self, pid):
        self.pid, self.wall = pid, time.monotonic()
        self.threads, self.machine, self.children = thread_cpu(pid), machine_cpu(), os.times()
        self.process = process_cpu(pid)

    def cores(self):
        secs = time.monotonic() - self.wall
        threads, machine, children = thread_cpu(self.pid), machine_cpu(), os.times()
        # Per thread: a connection's thread is new with each connection (a thread that ended
        # during the segment is not counted; the load's connections last the whole segment).
        out = {}
        for tid, (group, used) in threads.items():
            key = f"server {group}"
            out[key] = out.get(key, 0) + (used - self.threads.get(tid, (group, 0))[1]) / secs
        out = {k: round(v, 2) for k, v in out.items() if v >= 0.005}
        # The process's own count: a connection thread that ended during the segment is in it.
        out["server"] = round((process_cpu(self.pid) - self.process) / secs, 2)
        out["load generators"] = round((children.children_user + children.children_system -
                                        self.children.children_user - self.children.children_system) / secs, 2)
        for k in ("idle", "softirq", "steal"):
            out[f"machine {k}"] = round((machine[k] - self.machine[k]) / secs, 2)
        return out


class Variant:
    """One binary (and its settings) on one storage: its server, seeded users and session."""

    def __init__(self, index, label, binary, env, storage, workdir):
        self.label = label
        if storage == "postgres":
            self.db = f"{PG_DB}_{index}"
            psql(f"drop database if exists {self.db} with (force)")
            psql(f"create database {self.db}")
            url = f"postgres://postgres@127.0.0.1:5432/{self.db}"
        else:
            self.db = None
            path = os.path.join(workdir, f"{label}.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            url = f"sqlite:{path}"
        self.server = Server(binary, free_port(), url, workdir, f"{label}-{storage}", env)
        name = f"{label}-{storage}"
        self.emails, self.cookie = seed(self.server, SIGN_IN_CONNS, name)
        self.name = name

    def stop(self):
        self.server.stop()
        if self.db:
            psql(f"drop database if exists {self.db} with (force)")


def segment(v, loads, duration, workdir, tag):
    """Runs the named loads at once for `duration` seconds; their wrk results, and the CPU."""
    s = v.server
    every = {
        "get_session": (f"{s.auth}/get-session", get_session_lua(v.cookie), SESSION_CONNS),
        "sign_in": (f"{s.auth}/sign-in/email", sign_in_lua(s.origin, v.emails), SIGN_IN_CONNS),
        "malformed_sign_up": (f"{s.auth}/sign-up/email", malformed_lua(s.origin), MALFORMED_CONNS),
    }
    results = {}

    def run(key):
        url, lua, conns = every[key]
        results[key] = wrk(url, lua, conns, duration, workdir, f"{v.name}-{tag}-{key}")

    meter = CpuMeter(s.proc.pid)
    runs = [threading.Thread(target=run, args=(k,)) for k in loads]
    for r in runs:
        r.start()
    for r in runs:
        r.join()
    return results, meter.cores()


def scenario(variants, rounds, base_duration, duration, workdir):
    """Rounds of get-session alone then the overload, variant after variant, and get-session
    alone once more at the end: each overload segment is compared with the alone segments
    just before and after it, so a machine whose speed drifts (a shared VM does) moves both."""
    out = {v.label: {"rounds": [], "alone_runs": [], "samples": []} for v in variants}
    for v in variants:
        wrk(f"{v.server.auth}/get-session", get_session_lua(v.cookie), SESSION_CONNS, 3, workdir, f"{v.name}-warm")
        # A sign-in storm alone: what the hashing pool gives sign-ins when nothing else runs
        # (its budget must not hold them back then).
        out[v.label]["sign_in_alone"] = segment(v, ["sign_in"], base_duration, workdir, "sign-in-alone")[0]["sign_in"]
    for i in range(rounds + 1):
        for v in variants:
            r = out[v.label]
            alone, cpu = segment(v, ["get_session"], base_duration, workdir, f"alone-{i}")
            r["alone_runs"].append({**alone["get_session"], "cpu": cpu})
            if i == rounds:
                continue
            samples, stop = [], threading.Event()

            def sample(pid=v.server.proc.pid, t0=time.monotonic()):
                while not stop.wait(5):
                    samples.append(dict(t=round(time.monotonic() - t0), **proc_sample(pid)))

            sampler = threading.Thread(target=sample)
            load_before = load_average()
            sampler.start()
            results, cpu = segment(v, ["get_session", "sign_in", "malformed_sign_up"], duration, workdir, f"overload-{i}")
            stop.set()
            sampler.join()
            r["rounds"].append({"overload": results, "cpu": cpu, "samples": samples,
                                "load_average": {"before": load_before, "after": load_average()}})
    for r in out.values():
        summarise(r)
    return out


def combined(runs):
    """wrk results of several segments as one: summed answers over summed time; latencies are
    the median segment's (and the worst segment's max)."""
    secs = sum(w["requests"] / w["rps"] for w in runs if w["rps"] > 0)
    p = lambda k: statistics.median(w[k] for w in runs)
    statuses = {}
    for w in runs:
        for k, n in w["statuses"].items():
            statuses[k] = statuses.get(k, 0) + n
    return {"conns": runs[0]["conns"], "requests": sum(w["requests"] for w in runs),
            "rps": sum(w["requests"] for w in runs) / secs if secs else 0.0,
            "p50_ms": p("p50_ms"), "p90_ms": p("p90_ms"), "p99_ms": p("p99_ms"),
            "p99_ms_worst": max(w["p99_ms"] for w in runs), "max_ms": max(w["max_ms"] for w in runs),
            "timeouts": sum(w["timeouts"] for w in runs), "socket_errors": sum(w["socket_errors"] for w in runs),
            "non2xx": sum(w["non2xx"] for w in runs), "statuses": statuses, "segments": len(runs)}


def summarise(r):
    """The variant's figures over all rounds (what the verdict reads), and each round's
    get-session share against the alone segments around it."""
    alone_runs, rounds = r["alone_runs"], r["rounds"]
    r["alone"] = combined(alone_runs)
    r["overload"] = {k: combined([x["overload"][k] for x in rounds]) for k in rounds[0]["overload"]}
    r["round_shares"] = [round(x["overload"]["get_session"]["rps"] /
                               ((alone_runs[i]["rps"] + alone_runs[i + 1]["rps"]) / 2), 3)
                         for i, x in enumerate(rounds)]
    # The share the CPU allows at the per-request cost of alone: what the server had for
    # requests under overload (its CPU less hashing's) over what it used alone, times the part
    # of those requests that were session checks (the malformed sign-ups take the rest).
    r["round_ceilings"] = []
    for i, x in enumerate(rounds):
        alone_cpu = (alone_runs[i]["cpu"].get("server", 0) + alone_runs[i + 1]["cpu"].get("server", 0)) / 2
        o, c = x["overload"], x["cpu"]
        answered = o["get_session"]["rps"] + o["malformed_sign_up"]["rps"]
        if alone_cpu > 0 and answered > 0:
            r["round_ceilings"].append(round((c.get("server", 0) - c.get("server hash", 0)) / alone_cpu *
                                             o["get_session"]["rps"] / answered, 3))
    r["samples"] = [s for x in rounds for s in x["samples"]]
    r["load_average"] = {"before": rounds[0]["load_average"]["before"], "after": rounds[-1]["load_average"]["after"]}
    keys = {k for x in rounds for k in x["cpu"]}
    r["cpu_overload"] = {k: round(statistics.mean(x["cpu"].get(k, 0) for x in rounds), 2) for k in sorted(keys)}
    keys = {k for x in alone_runs for k in x["cpu"]}
    r["cpu_alone"] = {k: round(statistics.mean(x["cpu"].get(k, 0) for x in alone_runs), 2) for k in sorted(keys)}


def verdict(r, hash_limit):
    o, alone = r["overload"], r["alone"]
    si, bad, gs = o["sign_in"], o["malformed_sign_up"], o["get_session"]
    alone_si = r.get("sign_in_alone")
    return ([("sign-in alone (no other load) ÷ the hash limit", f"{alone_si['rps']:.1f}/s = "
              f"{100 * alone_si['rps'] / hash_limit:.0f} % (p99 {alone_si['p99_ms']:.0f} ms)", None)] if alone_si else []) + [
        ("sign-in ≥ 25 % of the hash limit", f"{si['rps']:.1f}/s = {100 * si['rps'] / hash_limit:.0f} %",
         si["rps"] >= 0.25 * hash_limit),
        ("sign-in p99 ≤ 3 s", f"{si['p99_ms']:.0f} ms (max {si['max_ms']:.0f})", si["p99_ms"] <= 3000),
        ("sign-in: 0 timeouts, 0 socket errors", f"{si['timeouts']} / {si['socket_errors']}",
         si["timeouts"] == 0 and si["socket_errors"] == 0),
        ("malformed sign-up p99 ≤ 50 ms", f"{bad['p99_ms']:.1f} ms ({bad['rps']:.0f}/s, {bad['timeouts']} timeouts)",
         bad["p99_ms"] <= 50 and bad["timeouts"] == 0),
        ("get-session ≥ 60 % of alone", f"{gs['rps']:.0f} / {alone['rps']:.0f} = {100 * gs['rps'] / alone['rps']:.0f} %"
         + (f" (rounds: {', '.join(f'{100 * x:.0f}' for x in r['round_shares'])} %)" if r.get("round_shares") else ""),
         gs["rps"] >= 0.6 * alone["rps"]),
    ] + ([("get-session share the CPU allows (no target): the server's CPU for requests under overload "
           "÷ its CPU alone × the session checks' part of the answers",
           f"{100 * statistics.mean(r['round_ceilings']):.0f} % (rounds: "
           f"{', '.join(f'{100 * x:.0f}' for x in r['round_ceilings'])} %)", None)] if r.get("round_ceilings") else []) + [
        ("get-session p99 ≤ 20 ms", f"{gs['p99_ms']:.1f} ms" +
         (f" (worst round {gs['p99_ms_worst']:.1f})" if gs.get("segments", 1) > 1 else ""), gs["p99_ms"] <= 20),
    ]


def report_markdown(summary):
    rounds = summary.get("rounds", 1)
    lines = [f"Overload scenario — {summary['date']}, {rounds} × {summary['duration']} s of overload "
             f"(get-session alone: {rounds + 1} × {summary['base_duration']} s, around them), {summary['cores']} cores, "
             f"load average at start {summary['load_average_start']}. Hash limit: {summary['cores']} ÷ "
             f"{summary['hash_ms']:.1f} ms (bcrypt 10) = {summary['hash_limit']:.1f}/s. Load generators at nice "
             f"{summary.get('client_nice', '0')}." + "".join(
                 f" {label} runs with {', '.join(f'{k}={v}' for k, v in env.items())}."
                 for label, env in summary.get("settings", {}).items()), "",
             *[f"FAILED: {f}" for f in summary.get("failures", [])],
             "| binary | storage | load | conns | req/s | p50 ms | p99 ms | max ms | timeouts | socket errors | statuses |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for key, r in summary["runs"].items():
        binary, storage = key.split("/")
        rows = [("get-session alone", r["alone"])] + \
            ([("sign-in alone", r["sign_in_alone"])] if r.get("sign_in_alone") else []) + [(k.replace("_", " "), v) for k, v in r["overload"].items()]
        for what, w in rows:
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(w["statuses"].items())) or "-"
            lines.append(f"| {binary} | {storage} | {what} | {w['conns']} | {w['rps']:.1f} | {w['p50_ms']:.2f} | "
                         f"{w['p99_ms']:.2f} | {w['max_ms']:.1f} | {w['timeouts']} | {w['socket_errors']} | {statuses} |")
    lines += ["", "| binary | storage | target | measured | met |", "| --- | --- | --- | --- | --- |"]
    for key, r in summary["runs"].items():
        binary, storage = key.split("/")
        for target, measured, met in verdict(r, summary["hash_limit"]):
            lines.append(f"| {binary} | {storage} | {target} | {measured} | {'-' if met is None else 'yes' if met else 'NO'} |")
    lines += ["", "| binary | storage | RSS first → last sample (MB) | threads | open files | load average before → after |",
              "| --- | --- | --- | --- | --- | --- |"]
    for key, r in summary["runs"].items():
        binary, storage = key.split("/")
        s = r["samples"]
        if s:
            lines.append(f"| {binary} | {storage} | {s[0]['rss_kb'] / 1024:.1f} → {s[-1]['rss_kb'] / 1024:.1f} | "
                         f"{s[0]['threads']} → {s[-1]['threads']} | {s[0]['fds']} → {s[-1]['fds']} | "
                         f"{r['load_average']['before']} → {r['load_average']['after']} |")
    cpu_rows = [(key, phase, r[f"cpu_{phase}"]) for key, r in summary["runs"].items()
                for phase in ("alone", "overload") if r.get(f"cpu_{phase}")]
    if cpu_rows:
        cols = sorted({k for _, _, c in cpu_rows for k in c}, key=lambda k: (not k.startswith("server"), k))
        lines += ["", "Where the CPU went (cores, mean of the segments):", "",
                  "| binary | storage | segment | " + " | ".join(cols) + " |",
                  "| --- | --- | --- | " + " | ".join("---:" for _ in cols) + " |"]
        for key, phase, c in cpu_rows:
            binary, storage = key.split("/")
            lines.append(f"| {binary} | {storage} | {phase} | " + " | ".join(f"{c.get(k, 0):.2f}" for k in cols) + " |")
    return "\n".join(lines)


def run(binaries, storages, duration, base_duration, hash_time, workdir, out=None, rounds=3):
    """Every binary on every storage, the binaries' rounds interleaved; returns the summary (also
    written to `out` after each storage, so an interrupted invocation keeps what it measured).
    A binary is `(label, path)` or `(label, path, {env})`."""
    cores = os.cpu_count() or 1
    summary = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": cores, "duration": duration,
               "base_duration": base_duration, "rounds": rounds, "load_average_start": load_average(),
               "runs": {}, "hash_ms_runs": [], "client_nice": CLIENT_NICE,
               "settings": {b[0]: b[2] for b in binaries if len(b) > 2 and b[2]}}
    for storage in storages:
        summary["hash_ms_runs"].append(hash_ms(hash_time))
        log(f"{', '.join(b[0] for b in binaries)} on {storage}")
        variants = []
        try:
            for i, (label, binary, *env) in enumerate(binaries):
                variants.append(Variant(i, label, binary, env[0] if env else {}, storage, workdir))
            for label, r in scenario(variants, rounds, base_duration, duration, workdir).items():
                summary["runs"][f"{label}/{storage}"] = r
        except Exception as e:  # noqa: BLE001 - one failed storage is reported, the other still runs
            log(f"{storage} failed: {e}")
            summary.setdefault("failures", []).append(f"{storage}: {e}")
        finally:
            for v in variants:
                v.stop()
        if out:
            with open(out, "w") as f:
                json.dump(summary, f, indent=2)
    summary["hash_ms"] = sum(summary["hash_ms_runs"]) / len(summary["hash_ms_runs"])
    summary["hash_limit"] = cores / (summary["hash_ms"] / 1000)
    return summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", action="append", default=[],
                    help="label=path of a sesame binary (repeatable); default after=target/release/sesame")
    ap.add_argument("--env", action="append", default=[], metavar="LABEL:KEY=VALUE",
                    help="a setting for one binary's server (repeatable), e.g. low:SESAME_HASH_SHARE=0.25; "
                         "the same path may be given twice under two labels")
    ap.add_argument("--storage", action="append", choices=["sqlite", "postgres"], default=[])
    ap.add_argument("--rounds", type=int, default=3, help="overload segments per binary and storage")
    ap.add_argument("--duration", type=int, default=40, help="seconds of each overload segment")
    ap.add_argument("--base-duration", type=int, default=10, help="seconds of each get-session-alone segment")
    ap.add_argument("--hash-time", default=os.path.join(ROOT, "target", "release", "examples", "hash_time"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "overload.json"))
    args = ap.parse_args()
    binaries = [tuple(b.split("=", 1)) for b in args.binary] or [("after", os.path.join(ROOT, "target", "release", "sesame"))]
    envs = {}
    for e in args.env:
        label, setting = e.split(":", 1)
        key, value = setting.split("=", 1)
        envs.setdefault(label, {})[key] = value
    binaries = [(label, path, envs.get(label, {})) for label, path in binaries]
    workdir = tempfile.mkdtemp(prefix="sesame-overload-")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    summary = run(binaries, args.storage or ["sqlite", "postgres"], args.duration, args.base_duration,
                  args.hash_time, workdir, args.out, args.rounds)
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
    print(report_markdown(summary))


if __name__ == "__main__":
    main()
