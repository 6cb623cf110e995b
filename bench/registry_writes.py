"""Registry writes under load and under ``kill -9``, against a real ``planner serve``.

Usage::

    python3 bench/registry_writes.py --store data/planner.gpkg            # all parts
    python3 bench/registry_writes.py --store data/planner.gpkg --trials 3 --edits 200

Works on a copy of ``--store`` (the original is never written) and starts the
service itself (this checkout's code) on a free loopback port.  Prints, and
ends with one JSON line of the same figures:

1. **single client**: ``--single`` sequential ``PATCH`` edits of one facility
   (each acknowledged with ``200``) → edits per second and latency;
2. **concurrent writers**: ``--writers`` threads, each editing its own facility
   ``--rounds`` times → p50 / p99 / max latency, and edits lost (a facility's
   final version and value must match the acknowledged ones);
3. **reads during the burst**: ``GET /collections/facilities/items/{id}`` p99
   while idle and during part 2 → their ratio;
4. **kill -9**: ``--trials`` times, a client streams up to ``--edits`` edits
   and the server is killed with SIGKILL at a random moment; then every
   acknowledged edit must be in the store (facility and audit row),
   ``PRAGMA integrity_check`` must say ``ok``, GDAL (the reader QGIS uses,
   here through pyogrio) must open every layer, no temporary file may be left
   and the file mode must be unchanged.

Targets (issue 12): ≥ 100 edits/s from one client; 50 writers with p99 < 1 s
and 0 lost; read p99 during the burst < 2 × idle; 30 kill -9 trials clean.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key-0123456789abcdef"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``planner serve`` (this checkout) on a loopback port."""

    def __init__(self, store: Path, log: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "PLANNER_SERVICE_STORE": str(store),
               "PLANNER_SERVICE_API_KEYS": json.dumps([API_KEY]),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")]))}
        self.log = open(log, "a")  # noqa: SIM115 - closed in stop()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "serve", "--host",
             "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.time() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}); see {log}")
            try:
                status, _, _ = request(self.conn(), "GET", "/api")
                if status == 200:
                    break
            except OSError:
                pass
            if time.time() > end:
                raise TimeoutError("server did not start")
            time.sleep(0.2)
        self.start_seconds = time.perf_counter() - t0

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


def request(conn: http.client.HTTPConnection, method: str, path: str,
            body: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    data = None if body is None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    return resp.status, dict(resp.getheaders()), resp.read()


def item(fid: str) -> str:
    return f"/collections/facilities/items/{fid}"


def edit(conn: http.client.HTTPConnection, fid: str, etag: str, value: int) -> tuple[int, str]:
    status, headers, body = request(conn, "PATCH", item(fid), {"properties": {"capacity": value}},
                                    {"X-API-Key": API_KEY, "If-Match": etag})
    if status != 200:
        raise RuntimeError(f"PATCH {fid}: {status} {body[:300]!r}")
    return status, headers.get("etag") or headers.get("ETag")


def etag_of(conn: http.client.HTTPConnection, fid: str) -> str:
    status, headers, body = request(conn, "GET", item(fid))
    if status != 200:
        raise RuntimeError(f"GET {fid}: {status} {body[:200]!r}")
    return headers.get("etag") or headers.get("ETag")


def facility_ids(store: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as con:
        return [r[0] for r in con.execute("SELECT id FROM facilities ORDER BY fid")]


# --------------------------------------------------------------------------- parts


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(server: Server) -> list[int]:
    """Process ids of the server's child processes (counted in its CPU time)."""
    path = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def single_client(server: Server, fid: str, n: int) -> dict:
    conn = server.conn()
    tag = etag_of(conn, fid)
    _, tag = edit(conn, fid, tag, 0)  # warm-up, not timed
    lat = []
    cpu0 = _cpu_seconds(server.proc.pid) + sum(_cpu_seconds(c) for c in _children(server))
    t0 = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        _, tag = edit(conn, fid, tag, i + 1)
        lat.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - t0
    cpu1 = _cpu_seconds(server.proc.pid) + sum(_cpu_seconds(c) for c in _children(server))
    cpu_ms = (cpu1 - cpu0) / n * 1000
    return {"edits": n, "edits_per_s": round(n / total, 1), "p50_ms": round(_pct(lat, 50), 1),
            "p99_ms": round(_pct(lat, 99), 1), "server_cpu_ms_per_edit": round(cpu_ms, 2),
            "edits_per_s_per_free_core": round(1000 / cpu_ms, 1) if cpu_ms else None,
            "load_average": os.getloadavg()[0]}


def _reads(server: Server, fid: str, stop: threading.Event | None, n: int | None,
           out: list[float]) -> None:
    conn = server.conn()
    i = 0
    while (stop is None or not stop.is_set()) and (n is None or i < n):
        t = time.perf_counter()
        status, _, _ = request(conn, "GET", item(fid))
        out.append((time.perf_counter() - t) * 1000)
        assert status == 200
        i += 1
        if stop is not None:
            time.sleep(0.002)


def concurrent_writers(server: Server, fids: list[str], rounds: int, read_fid: str) -> dict:
    idle: list[float] = []
    _reads(server, read_fid, None, 400, idle)
    lat: list[float] = []
    errors: list[str] = []
    finals: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(len(fids) + 1)

    def writer(fid: str) -> None:
        conn = server.conn()
        tag = etag_of(conn, fid)
        start.wait()
        mine = []
        try:
            for k in range(rounds):
                t = time.perf_counter()
                _, tag = edit(conn, fid, tag, 1000 + k)
                mine.append((time.perf_counter() - t) * 1000)
        except Exception as exc:  # noqa: BLE001 - counted as an error
            errors.append(f"{fid}: {exc}")
        with lock:
            lat.extend(mine)
            finals[fid] = 1000 + rounds - 1

    busy: list[float] = []
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(f,)) for f in fids]
    for t in threads:
        t.start()
    reader = threading.Thread(target=_reads, args=(server, read_fid, stop, None, busy))
    start.wait()
    t0 = time.perf_counter()
    reader.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    stop.set()
    reader.join()
    conn = server.conn()
    lost = 0
    for fid in fids:
        _, _, body = request(conn, "GET", item(fid))
        props = json.loads(body)["properties"]
        if props["capacity"] != finals.get(fid):
            lost += 1
    return {"writers": len(fids), "rounds": rounds, "edits": len(lat), "errors": errors[:5],
            "n_errors": len(errors), "edits_per_s": round(len(lat) / elapsed, 1),
            "p50_ms": round(_pct(lat, 50), 1), "p99_ms": round(_pct(lat, 99), 1),
            "max_ms": round(max(lat), 1) if lat else None, "lost": lost,
            "read_idle_p99_ms": round(_pct(idle, 99), 2),
            "read_busy_p99_ms": round(_pct(busy, 99), 2),
            "read_busy_n": len(busy),
            "read_ratio": round(_pct(busy, 99) / _pct(idle, 99), 2)}


def check_store_after_crash(store: Path, acked: list[tuple[str, int, int]], mode: int) -> dict:
    """Every acknowledged (facility, version, capacity) is stored; the file is sound."""
    import pyogrio

    problems: list[str] = []
    with contextlib.closing(sqlite3.connect(store)) as con:
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            problems.append(f"integrity_check: {ok}")
        stored = dict(con.execute("SELECT id, version FROM facilities"))
        audit = set()
        for (after,) in con.execute("SELECT after FROM facility_audit WHERE action = 'update'"):
            a = json.loads(after)
            audit.add((a["id"], a["version"], a["capacity"]))
    for fid, version, value in acked:
        if stored.get(fid, -1) < version:
            problems.append(f"{fid}: stored version {stored.get(fid)} < acknowledged {version}")
        if (fid, version, value) not in audit:
            problems.append(f"{fid}: audit row of version {version} missing")
    try:  # GDAL, the reader QGIS uses
        for name, _ in pyogrio.list_layers(store):
            pyogrio.read_info(store, layer=name)
            pyogrio.read_dataframe(store, layer=name, max_features=50)
        n = len(pyogrio.read_dataframe(store, layer="facilities"))
        if n != len(stored):
            problems.append(f"GDAL reads {n} facilities, SQLite {len(stored)}")
    except Exception as exc:  # noqa: BLE001 - reported
        problems.append(f"GDAL: {exc}")
    temps = [p.name for p in store.parent.glob(f".{store.name}.*tmp*")]
    if temps:
        problems.append(f"temporary files left: {temps}")
    if (os.stat(store).st_mode & 0o7777) != mode:
        problems.append(f"mode changed to {oct(os.stat(store).st_mode & 0o7777)}")
    return {"acked": len(acked), "integrity": ok, "problems": problems}


def kill_trials(store: Path, work: Path, trials: int, edits: int, rate: float,
                seed: int) -> dict:
    rnd = random.Random(seed)
    fids = facility_ids(store)[:5]
    mode = os.stat(store).st_mode & 0o7777
    results = []
    starts = []
    for trial in range(trials):
        server = Server(store, work / "serve.log")
        starts.append(server.start_seconds)
        acked: list[tuple[str, int, int]] = []
        # kill at a random moment of the stream (its expected length at ``rate``)
        stop_after = rnd.uniform(0.02, 1.0) * edits / max(rate, 1.0)

        def stream(srv: Server = server, out: list = acked, trial: int = trial) -> None:
            conn = srv.conn()
            tags = {f: etag_of(conn, f) for f in fids}
            for i in range(edits):
                fid = fids[i % len(fids)]
                value = (trial * 1000 + i) % 100_000  # within the capacity limit
                try:
                    _, tag = edit(conn, fid, tags[fid], value)
                except Exception:  # noqa: BLE001 - the server was killed
                    return
                tags[fid] = tag
                out.append((fid, int(tag.strip('W/"')), value))

        t = threading.Thread(target=stream)
        t.start()
        t.join(stop_after)
        server.kill9()
        t.join()
        res = check_store_after_crash(store, acked, mode)
        res["trial"] = trial
        results.append(res)
        print(f"  trial {trial + 1}/{trials}: {res['acked']} acknowledged, integrity "
              f"{res['integrity']}, problems {len(res['problems'])}", flush=True)
    bad = [r for r in results if r["problems"]]
    return {"trials": trials, "edits_per_stream": edits,
            "acked_total": sum(r["acked"] for r in results),
            "acked_min": min(r["acked"] for r in results) if results else 0,
            "acked_max": max(r["acked"] for r in results) if results else 0,
            "trials_with_problems": len(bad),
            "problems": [p for r in bad for p in r["problems"]][:10],
            "server_start_s_median": round(_pct(starts, 50), 1)}


class _SkipTimedError(Exception):
    """Skip the timed parts (``--kill-only``)."""


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, default=ROOT / "data" / "planner.gpkg")
    ap.add_argument("--single", type=int, default=500, help="edits of the single client")
    ap.add_argument("--writers", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=10, help="edits per concurrent writer")
    ap.add_argument("--trials", type=int, default=30, help="kill -9 trials (0: skip)")
    ap.add_argument("--edits", type=int, default=1000, help="edits per kill -9 stream")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--kill-only", action="store_true",
                    help="only the kill -9 trials (run them under `nice`: no timing target)")
    ap.add_argument("--rate", type=float, default=60.0,
                    help="edits/s assumed to spread the kills over a stream with --kill-only")
    args = ap.parse_args(argv)
    if not args.store.exists():
        raise SystemExit(f"{args.store}: no store; build it with `planner data build`")
    with tempfile.TemporaryDirectory(prefix="registry_writes_") as tmp:
        work = Path(tmp)
        store = work / "planner.gpkg"
        shutil.copyfile(args.store, store)
        os.chmod(store, 0o644)
        single: dict = {"edits_per_s": args.rate}
        conc = None
        server = None if args.kill_only else Server(store, work / "serve.log")
        try:
            if server is None:
                raise _SkipTimedError
            fids = facility_ids(store)
            single = single_client(server, fids[0], args.single)
            print(f"single client: {single['edits_per_s']} acknowledged edits/s "
                  f"(p50 {single['p50_ms']} ms, p99 {single['p99_ms']} ms, {args.single} "
                  f"edits); server CPU {single['server_cpu_ms_per_edit']} ms per edit = "
                  f"{single['edits_per_s_per_free_core']} edits/s on one free core "
                  f"(load average {single['load_average']:.1f} on {os.cpu_count()} cores)",
                  flush=True)
            conc = concurrent_writers(server, fids[1:1 + args.writers], args.rounds, fids[0])
            print(f"{conc['writers']} concurrent writers x {conc['rounds']}: p50 "
                  f"{conc['p50_ms']} ms, p99 {conc['p99_ms']} ms, max {conc['max_ms']} ms, "
                  f"lost {conc['lost']}, errors {conc['n_errors']}", flush=True)
            print(f"reads: idle p99 {conc['read_idle_p99_ms']} ms, during the burst p99 "
                  f"{conc['read_busy_p99_ms']} ms (x{conc['read_ratio']}, "
                  f"{conc['read_busy_n']} reads)", flush=True)
        except _SkipTimedError:
            pass
        finally:
            if server is not None:
                server.stop()
        kills = None
        if args.trials:
            print(f"kill -9: {args.trials} trials of up to {args.edits} edits", flush=True)
            kills = kill_trials(store, work, args.trials, args.edits, single["edits_per_s"],
                                args.seed)
            print(f"kill -9: {kills['trials'] - kills['trials_with_problems']}/{kills['trials']} "
                  f"trials clean, {kills['acked_total']} acknowledged edits all present"
                  if not kills["trials_with_problems"] else f"kill -9 problems: "
                  f"{kills['problems']}", flush=True)
        result = {"single": single, "concurrent": conc, "kill9": kills}
        print(json.dumps(result))
        return result


if __name__ == "__main__":
    main()
