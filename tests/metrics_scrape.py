"""Scrapes a Sesame metrics endpoint and parses it with the official Prometheus client's
OpenMetrics parser; prints one JSON object: {"name{label=value,...}": value}.

Usage: python3 tests/metrics_scrape.py http://127.0.0.1:PORT/metrics
"""

import json
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main() -> None:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as resp:
        content_type = resp.headers.get("content-type", "")
        text = resp.read().decode("utf-8")
    if not content_type.startswith("application/openmetrics-text"):
        sys.exit(f"unexpected content type {content_type!r}")
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
