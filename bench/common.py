"""Helpers shared by the benchmark scripts: SQL through psql, and one HTTP request."""
import json
import subprocess
import urllib.error
import urllib.request


def psql(sql, db="postgres"):
    """Runs SQL (given on stdin, so quoting is never an issue) and returns its output."""
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-tA"],
                          input=sql, check=True, text=True, capture_output=True).stdout


def http(method, url, body=None, headers=None, timeout=10):
    """One request; returns (status, headers, body) for error statuses too."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
