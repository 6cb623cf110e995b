"""Loopback load test of a running ``planner serve``: p50/p99 latency per endpoint.

Usage::

    planner serve --port 8000 &          # on a built store
    python3 bench/api_load.py --url http://127.0.0.1:8000 --clients 20 --seconds 20

Each of ``--clients`` concurrent httpx (async) clients loops over the request
mix for ``--seconds`` per endpoint; the first (warm-up) request of each
endpoint is made before the clock starts, so the coverage figures measure the
service with the territory's assessment cached, as a planner using the page
sees it.  Prints requests, errors, throughput and p50/p90/p99/max latency
(milliseconds) per endpoint, and a JSON line with the same numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx

ENDPOINTS: dict[str, list[str]] = {
    "items_communes_page": [
        "/collections/communes/items?limit=100&offset={i100}",
    ],
    "items_communes_bbox": [
        "/collections/communes/items?bbox=108.5,11.3,109.3,12.2&limit=100",
    ],
    "items_facilities_filter": [
        "/collections/facilities/items?province_code=56&status=operating&limit=100",
    ],
    "item_single": ["/collections/provinces/items/56"],
    "coverage": [
        "/analysis/coverage?territory=pre2025:58&kind=any&threshold=60&profile=motorbike",
        "/analysis/coverage?territory=pre2025:58&kind=elderly_care&threshold=90"
        "&profile=motorbike",
    ],
}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


async def _client(base: str, paths: list[str], until: float, out: list[float],
                  errors: list[str]) -> None:
    i = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.perf_counter() < until:
            path = paths[i % len(paths)].format(i100=(i * 100) % 3300)
            i += 1
            t0 = time.perf_counter()
            try:
                r = await client.get(path)
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {path}")
                else:
                    out.append(elapsed * 1000)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__} {path}")


async def run(base: str, clients: int, seconds: float) -> dict[str, dict]:
    """Load each endpoint in turn; return latency statistics per endpoint."""
    results: dict[str, dict] = {}
    async with httpx.AsyncClient(base_url=base, timeout=300) as warm:
        for paths in ENDPOINTS.values():
            for p in paths:
                r = await warm.get(p.format(i100=0))
                r.raise_for_status()
    for name, paths in ENDPOINTS.items():
        latencies: list[float] = []
        errors: list[str] = []
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(*(_client(base, paths, until, latencies, errors)
                               for _ in range(clients)))
        wall = time.perf_counter() - start
        results[name] = {
            "requests": len(latencies),
            "errors": len(errors),
            "rps": round(len(latencies) / wall, 1),
            "p50_ms": round(_percentile(latencies, 50), 1),
            "p90_ms": round(_percentile(latencies, 90), 1),
            "p99_ms": round(_percentile(latencies, 99), 1),
            "max_ms": round(max(latencies), 1) if latencies else float("nan"),
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else float("nan"),
        }
        if errors:
            results[name]["first_errors"] = errors[:3]
    return results


def main() -> None:
    """Parse arguments, run the load and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    results = asyncio.run(run(args.url.rstrip("/"), args.clients, args.seconds))
    print(f"{args.clients} clients x {args.seconds:g} s per endpoint against {args.url}")
    print(f"{'endpoint':26} {'req':>7} {'err':>4} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8}")
    for name, r in results.items():
        print(f"{name:26} {r['requests']:>7} {r['errors']:>4} {r['rps']:>7} {r['p50_ms']:>8} "
              f"{r['p90_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8}")
    print(json.dumps({"clients": args.clients, "seconds": args.seconds, "results": results}))


if __name__ == "__main__":
    main()
