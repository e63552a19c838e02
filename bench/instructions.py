#!/usr/bin/env python3
"""Instructions per request, counted by callgrind: a comparison of two builds that does not
depend on what else the machine is doing (`make bench-instructions`).

Wall-clock benchmarks (`make bench`) need a quiet machine; instruction counts are the same
whatever the load, so they tell whether a refactoring moved the cost of a request. For each
binary and storage the server runs under `valgrind --tool=callgrind` with one worker; it is
started twice, answering FEW and then MANY identical requests after the same set-up, and the
difference of the two totals divided by MANY - FEW is the cost of one request (start-up,
migrations and shutdown cancel out).

    python3 bench/instructions.py target/release/sesame [other/sesame ...] [--many 600]

Scenarios: get-session with a valid cookie, and GET /ok (the pipeline's floor). PostgreSQL
runs against database `sesame_instructions` on 127.0.0.1:5432 (recreated per run).
Only 127.0.0.1 is contacted; every wait is bounded.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

SECRET = "instructions-secret-0123456789abcdefghijklmnop"
PG_DB = "sesame_instructions"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def psql(sql, db="postgres"):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qtA"],
                   input=sql, check=True, text=True, capture_output=True)


def request(conn, method, path, body=None, headers=None):
    hdrs = {"content-type": "application/json", "origin": conn.origin}
    hdrs.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, resp.getheader("set-cookie") or "", data


def run_once(binary, storage, scenario, count, workdir):
    port = free_port()
    out = os.path.join(workdir, f"cg.{os.getpid()}.{port}")
    if storage == "memory":
        url = "memory"
    elif storage == "sqlite":
        db = os.path.join(workdir, f"s{port}.db")
        url = f"sqlite:{db}"
    else:
        psql(f"drop database if exists {PG_DB} with (force); create database {PG_DB};")
        url = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", BETTER_AUTH_SECRET=SECRET,
               BETTER_AUTH_URL=f"http://127.0.0.1:{port}", DATABASE_URL=url, SESAME_WORKERS="1",
               SESAME_RATE_LIMIT="false", SESAME_BCRYPT_COST="4", SESAME_READ_TIMEOUT_SECS="300", RUST_LOG="error", SESAME_LOG="error")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "serve"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.origin = f"http://127.0.0.1:{port}"
                if request(conn, "GET", "/api/auth/ok")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"{binary} ({storage}) did not start")
            time.sleep(0.2)
        status, cookie, _ = request(conn, "POST", "/api/auth/sign-up/email",
                                    {"email": "ada@example.com", "password": "correct-horse-1", "name": "Ada"})
        assert status == 200, status
        token = cookie.split(";")[0]
        path = "/api/auth/get-session" if scenario == "get-session" else "/api/auth/ok"
        for _ in range(count):
            status, _, body = request(conn, "GET", path, headers={"cookie": token})
            assert status == 200 and body != b"null", (status, body)
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    totals = [int(m) for m in re.findall(r"^(?:summary|totals): (\d+)", open(out).read(), re.M)]
    os.remove(out)
    if not totals:
        raise SystemExit(f"no callgrind totals for {binary} ({storage}): {err[-400:]}")
    return totals[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--few", type=int, default=100)
    ap.add_argument("--many", type=int, default=600)
    ap.add_argument("--storages", default="memory,sqlite,postgres")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for storage in args.storages.split(","):
            for scenario in ("get-session", "ok"):
                row = [storage, scenario]
                for binary in args.binaries:
                    few = run_once(binary, storage, scenario, args.few, workdir)
                    many = run_once(binary, storage, scenario, args.many, workdir)
                    per = (many - few) / (args.many - args.few)
                    print(f"[instructions] {binary} {storage} {scenario}: {per:,.0f}", file=sys.stderr, flush=True)
                    row.append(per)
                rows.append(row)
    head = "| storage | request | " + " | ".join(args.binaries) + (" | change |" if len(args.binaries) == 2 else " |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for storage, scenario, *counts in rows:
        cells = " | ".join(f"{c:,.0f}" for c in counts)
        change = f" | {100 * (counts[1] - counts[0]) / counts[0]:+.1f} %" if len(counts) == 2 else ""
        print(f"| {storage} | {scenario} | {cells}{change} |")


if __name__ == "__main__":
    main()
