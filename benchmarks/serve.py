"""Load on ``facerec serve``: N concurrent clients on loopback, each sending identify requests.

Starts ``facerec serve`` (a fresh database of the 12 Happy House residents, for
each encoder of ``--encoders``, default dlib and nn4) on a free loopback port, then for each N in ``--clients``
(default 1, 4, 16) runs N threads, each with its own HTTP connection, each
sending ``--requests`` ``POST /api/identify`` requests with the six door-camera
shots in turn. Reports requests/s over the whole step and the p50 / p99 latency
of single requests. The server answers one request at a time (one model, one
lock): more clients raise the latency, not the throughput.

``--attack``: instead, the door check of one resident while an attacker sends crafted
photos (:func:`crafted_photos`: a blank 1600x1200 JPEG, a JPEG whose header claims
60000x30000 pixels, a blank 6300x6300 PNG) in a loop on another connection: the
resident's ``--requests`` identify requests are timed alone (clean) and then under
attack; the attacker's loop is bounded (``--attack-loops`` rounds at most) and stops
when the resident is done. Loopback only. Its results go in their own block.

Usage::

    python benchmarks/serve.py [--encoders dlib nn4] [--clients 1 4 16] [--requests 20] [--json] [--update FILE]
    python benchmarks/serve.py --attack --encoders dlib [--requests 30] [--attack-loops 20] [--update FILE]
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
ATTACK_BEGIN, ATTACK_END = "<!-- serve-attack:begin -->", "<!-- serve-attack:end -->"
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


def crafted_photos(loops: int = 1) -> list[list[tuple[str, bytes]]]:
    """The issue's crafted photos, for each of ``loops`` rounds: ``(name, bytes)`` of a blank 1600x1200 JPEG
    (a grey of its own each round: the server remembers the boxes of a photo it has seen), a JPEG claiming
    60000x30000 pixels in its header, a blank 6300x6300 PNG."""
    import io
    import struct

    from PIL import Image

    def jpeg(width: int, height: int, grey: int = 200) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), (grey,) * 3).save(buffer, "JPEG", quality=75)
        return buffer.getvalue()

    claiming = bytearray(jpeg(64, 64))
    struct.pack_into(">HH", claiming, claiming.find(b"\xff\xc0") + 5, 30000, 60000)  # SOF0: height, width
    png = io.BytesIO()
    Image.new("RGB", (6300, 6300), (255, 255, 255)).save(png, "PNG", optimize=True)
    return [[("blank-1600x1200.jpg", jpeg(1600, 1200, 230 - round_ % 200)),
             ("header-60000x30000.jpg", bytes(claiming)), ("blank-6300x6300.png", png.getvalue())]
            for round_ in range(loops)]


def _percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))],
            "max_ms": 1000 * ordered[-1]}


def attack_step(url: str, requests: int, shots: list[bytes],
                crafted: list[list[tuple[str, bytes]]] | None) -> dict:
    """One resident's ``requests`` identify calls, timed; with ``crafted``, an attacker sends them meanwhile."""
    import httpx

    attacker: dict[str, list] = {}
    done = threading.Event()

    def attack() -> None:
        with httpx.Client(base_url=url, timeout=300) as session:
            for round_ in crafted:
                for name, data in round_:
                    if done.is_set():
                        return
                    start = time.perf_counter()
                    response = session.post("/api/identify", files={"photo": (name, data, "application/octet-stream")})
                    attacker.setdefault(name, []).append((response.status_code, time.perf_counter() - start))

    thread = threading.Thread(target=attack) if crafted else None
    if thread:
        thread.start()
        time.sleep(0.5)  # the attacker's first photo is in
    latencies, failures = [], 0
    with httpx.Client(base_url=url, timeout=300) as session:
        for index in range(requests):
            start = time.perf_counter()
            response = session.post("/api/identify", files={"photo": ("door.jpg", shots[index % len(shots)],
                                                                     "image/jpeg")})
            latencies.append(time.perf_counter() - start)
            failures += response.status_code not in (200, 400)
    done.set()
    if thread:
        thread.join()
    return {"scenario": "under attack" if crafted else "clean", "requests": requests, "failures": failures,
            **_percentiles(latencies),
            "attacker": {name: {"answers": len(runs), "statuses": sorted({status for status, _ in runs}),
                                "p50_ms": 1000 * statistics.median(s for _, s in runs)}
                         for name, runs in attacker.items()}}


def attack_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"Command: `{report['command']}` ({report['date']}); {m['cpu']}, {m['cores']} cores (other jobs may "
             f"have shared the machine: load average {report['load_average_end']} at the end); a 12-person "
             "database; the resident's door check is `POST /api/identify` with the six Happy House door shots "
             "in turn, one at a time.", "",
             "| encoder | scenario | resident requests | p50 (ms) | p99 (ms) | max (ms) | failures | attacker's "
             "photos: answers, status, p50 |", "|---|---|---|---|---|---|---|---|"]
    for s in report["steps"]:
        crafted = "; ".join(f"{name}: {a['answers']} x {'/'.join(map(str, a['statuses']))}, {a['p50_ms']:.0f} ms"
                            for name, a in s["attacker"].items()) or "none"
        lines.append(f"| {s['encoder']} | {s['scenario']} | {s['requests']} | {s['p50_ms']:.0f} | {s['p99_ms']:.0f} | "
                     f"{s['max_ms']:.0f} | {s['failures']} | {crafted} |")
    return "\n".join(lines)


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
    parser.add_argument("--attack", action="store_true",
                        help="the resident's door check, clean and while an attacker sends crafted photos")
    parser.add_argument("--attack-loops", type=int, default=20, help="the attacker's rounds at most (default 20)")
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
                if args.attack:
                    steps += [{"encoder": encoder, **attack_step(url, args.requests, shots, crafted)}
                              for crafted in (None, crafted_photos(args.attack_loops))]
                else:
                    steps += [{"encoder": encoder, **load_step(url, n, args.requests, shots)} for n in args.clients]
            finally:
                process.terminate()
                process.wait(timeout=30)
    report = {"command": " ".join(["python benchmarks/serve.py", *(argv if argv is not None else sys.argv[1:])]),
              "date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(), "steps": steps,
              "load_average_end": round(os.getloadavg()[0], 2)}
    text = attack_markdown(report) if args.attack else markdown(report)
    if args.update:
        update_block(args.update, text, *((ATTACK_BEGIN, ATTACK_END) if args.attack else (BEGIN, END)))
    print(json.dumps(report) if args.json else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
