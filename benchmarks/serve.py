"""Load on ``facerec serve``: N concurrent clients on loopback, each sending identify requests.

Starts ``facerec serve`` (a fresh database of the 12 Happy House residents, for
each encoder of ``--encoders``, default dlib and nn4) on a free loopback port, then for each N in ``--clients``
(default 1, 4, 16) runs N threads, each with its own HTTP connection, each
sending ``--requests`` ``POST /api/identify`` requests with the six door-camera
shots in turn. Reports requests/s over the whole step and the p50 / p99 latency
of single requests. The server answers one request at a time (one model, one
lock): more clients raise the latency, not the throughput.

Usage::

    python benchmarks/serve.py [--encoders dlib nn4] [--clients 1 4 16] [--requests 20] [--json] [--update FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import happy_house_photos, machine, update_block  # noqa: E402

BEGIN, END = "<!-- serve:begin -->", "<!-- serve:end -->"
FACEREC = Path(sys.executable).with_name("facerec")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path, encoder: str) -> tuple[subprocess.Popen, str]:
    """Enroll the residents into a new ``encoder`` database in ``folder`` and serve it; returns (process, URL)."""
    db = folder / f"door-{encoder}.sqlite"
    residents = [p for p in happy_house_photos() if not p.stem.startswith("camera")]
    for path in residents:
        subprocess.run([str(FACEREC), "--db", str(db), "--encoder", encoder, "enroll", path.stem, str(path)],
                       check=True, capture_output=True)
    port = _free_port()
    process = subprocess.Popen([str(FACEREC), "--db", str(db), "serve", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(600):
        try:
            httpx.get(url + "/api/health", timeout=2).raise_for_status()
            return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("facerec serve did not start within 2 minutes")


def load_step(url: str, clients: int, requests: int, shots: list[bytes]) -> dict:
    """``clients`` threads x ``requests`` identify calls; requests/s and latency percentiles (ms)."""
    import httpx

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as session:
            for index in range(requests):
                shot = shots[(number + index) % len(shots)]
                start = time.perf_counter()
                response = session.post("/api/identify", files={"photo": ("door.jpg", shot, "image/jpeg")})
                elapsed = time.perf_counter() - start
                with lock:
                    (latencies if response.status_code in (200, 400) else failures).append(
                        elapsed if response.status_code in (200, 400) else response.status_code)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {"clients": clients, "requests": len(latencies), "failures": len(failures),
            "requests_per_s": len(latencies) / wall, "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]}


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"Command: `{report['command']}` ({report['date']}); {m['cpu']}, {m['cores']} cores; a "
             "12-person database, the six Happy House door shots (96x96) in turn.", "",
             "| encoder | clients | requests | requests/s | p50 latency (ms) | p99 latency (ms) | failures |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {s['encoder']} | {s['clients']} | {s['requests']} | {s['requests_per_s']:.1f} | {s['p50_ms']:.0f} | "
              f"{s['p99_ms']:.0f} | {s['failures']} |" for s in report["steps"]]
    return "\n".join(lines)


def update_file(path: Path, text: str) -> None:
    """Replace the results block of ``path`` (appended when the markers are missing)."""
    update_block(path, text, BEGIN, END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=["dlib", "nn4"], choices=["dlib", "nn4"])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=20, help="identify requests per client (default 20)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--update", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    import httpx

    shots = [p.read_bytes() for p in happy_house_photos() if p.stem.startswith("camera")]
    steps = []
    with tempfile.TemporaryDirectory() as folder:
        for encoder in args.encoders:
            process, url = start_server(Path(folder), encoder)
            try:
                assert httpx.get(url + "/api/health").json()["encoder"] == encoder
                load_step(url, 1, 3, shots)  # warm-up
                steps += [{"encoder": encoder, **load_step(url, n, args.requests, shots)} for n in args.clients]
            finally:
                process.terminate()
                process.wait(timeout=30)
    report = {"command": " ".join(["python benchmarks/serve.py", *(argv if argv is not None else sys.argv[1:])]),
              "date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(), "steps": steps,
              "load_average_end": round(os.getloadavg()[0], 2)}
    text = markdown(report)
    if args.update:
        update_file(args.update, text)
    print(json.dumps(report) if args.json else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
