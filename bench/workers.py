#!/usr/bin/env python3
"""Worker count against throughput (`make bench-workers`): `wrk -c 32` on get-session and /ok,
Sesame on memory storage and on PostgreSQL (session cache on), for SESAME_WORKERS = 1, 2 and
4 × the cores, the counts interleaved round by round so they share the machine's conditions;
the load average is recorded next to every number.

  python3 bench/workers.py [--rounds 2] [--duration 6]
"""
import argparse
import os
import shutil
import tempfile

import bench as b
import cache


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=6)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    counts = [cores, 2 * cores, 4 * cores]
    b.psql(f"drop database if exists {cache.DB} with (force)")
    b.psql(f"create database {cache.DB}")
    workdir = tempfile.mkdtemp(prefix="sesame-workers-")
    rows = []
    for storage, url in [("memory", "memory"), ("postgres", cache.PG_URL)]:
        results = {n: {"get-session": [], "ok": []} for n in counts}
        for _ in range(args.rounds):
            for n in counts:
                t = cache.start(f"w{n}-{storage}", 3400 + n, url, workdir, SESAME_WORKERS=n)
                try:
                    emails, password = b.seed_users(t, 1, f"w{n}-{storage}")
                    cookie = b.session_cookie(t, emails[0], password)
                    b.wrk(f"{t.auth}/get-session", b.get_session_lua(cookie), 32, 2, workdir, "warm")
                    for name, path, lua in [("get-session", "/get-session", b.get_session_lua(cookie)), ("ok", "/ok", "")]:
                        la = cache.load()
                        r = b.wrk(f"{t.auth}{path}", lua, 32, args.duration, workdir, f"w{n}-{name}")
                        results[n][name].append((r["rps"], r["p99_ms"], la))
                        b.log(f"{storage} workers={n} {name}: {r['rps']:.0f} req/s p99 {r['p99_ms']:.2f} ms (load {la})")
                finally:
                    t.stop()
        for n in counts:
            gs, ok = results[n]["get-session"], results[n]["ok"]
            rps = lambda xs: sum(x[0] for x in xs) / len(xs)
            rows.append(f"| {storage} | {n} | {rps(gs):.0f} | {rps(ok):.0f} | {rps(gs) / rps(ok) * 100:.0f} % | "
                        f"{max(x[1] for x in gs):.2f} | {', '.join(str(x[2]) for x in gs + ok)} |")
    print("| storage | SESAME_WORKERS | get-session req/s | /ok req/s | get-session ÷ /ok | get-session p99 ms (worst) | load averages |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    print("\n".join(rows))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
