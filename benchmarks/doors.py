"""Many doors, one gallery: doors on one PostgreSQL (1 / 2 / 4 processes) and one door on an SQLite file.

Usage::

    python benchmarks/doors.py [--people 10000] [--per-person 5] [--doors 1 2 4] [--seconds 20] [--json OUT]

The gallery: real dlib encodings of BFW (800 people x 25 photos) and LFW (5,749 people, 13,233 photos) from
the encodings cache (``datasets/bfw_dlib.h5``, ``datasets/lfw_dlib.h5``: see facerec/encoders/cache.py), up to
``--per-person`` a person; a person with fewer real photos gets synthetic ones drawn around a real one (Gaussian,
0.025 a dimension: about dlib's spread within a person), and the people beyond the data sets' are synthetic,
centred 0.05 a dimension away from a real encoding. The script prints how many of each. Loaded in bulk, as
``facerec migrate`` does. PostgreSQL: a throwaway cluster (tests/helpers_postgres.py) with fsync on.

Each door is a process: it opens the database, loads the gallery (start-up time, resident memory), then for
``--seconds`` answers identify requests back to back: the gallery search of one encoding with the names (what
``facerec door`` / ``serve`` do per face after encoding it; the encoding itself costs the same on either engine,
see bench_identify.py). Meanwhile this process enrolls ``--enroll`` new people, one every
``--seconds / (enroll + 2)`` s; each door notes when it first finds each one (propagation: that time minus the
enrollment's commit). Then each door logs ``--log-rows`` door-log rows, one transaction each (write latency).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]
FINGERPRINT = "benchmark-doors"


def gallery(people: int, per_person: int, seed: int = 0) -> tuple[list[np.ndarray], dict]:
    """``people`` arrays of ``per_person`` encodings each, real where the caches have them; and the counts."""
    from facerec.encoders.cache import read_encodings

    rng = np.random.default_rng(seed)
    by_person: dict[str, list[np.ndarray]] = {}
    for cache in ("bfw_dlib.h5", "lfw_dlib.h5"):
        for path, encoding in sorted(read_encodings(REPO / "datasets" / cache).items()):
            by_person.setdefault(f"{cache[:3]}:{Path(path).parent}", []).append(encoding.astype(np.float32))
    real = list(by_person.values())[:people]
    counts = {"people_real": len(real), "encodings_real": sum(min(len(v), per_person) for v in real)}
    groups = []
    for vectors in real:
        chosen = vectors[:per_person]
        extra = [chosen[i % len(chosen)] + rng.normal(0, 0.025, 128) for i in range(per_person - len(chosen))]
        groups.append(np.stack(chosen + extra).astype(np.float32))
    pool = np.concatenate(groups) if groups else rng.normal(0, 0.09, (1, 128))
    while len(groups) < people:
        centre = pool[rng.integers(len(pool))] + rng.normal(0, 0.05, 128)
        groups.append((centre + rng.normal(0, 0.025, (per_person, 128))).astype(np.float32))
    counts["people_synthetic"] = people - counts["people_real"]
    counts["encodings_synthetic"] = people * per_person - counts["encodings_real"]
    return groups, counts


def load(location, groups: list[np.ndarray]) -> float:
    """Write the gallery into the empty database at ``location`` in one transaction; returns seconds."""
    from facerec.database import FaceDatabase
    from facerec.stores.dump import TABLES

    now = "2026-01-01T00:00:00+00:00"
    tables = {table: [] for table in TABLES}
    tables["meta"] = [("encoder", "dlib"), ("model_fingerprint", FINGERPRINT)]
    face = 0
    for person, vectors in enumerate(groups, start=1):
        tables["people"].append((person, f"person_{person:07d}", now))
        for vector in vectors:
            face += 1
            tables["faces"].append((face, person, vector.astype("<f4").tobytes(), f"{face}.jpg", f"{face:064x}",
                                    0, 0, 1, 1, now))
    started = time.perf_counter()
    with FaceDatabase(location, encoder="dlib") as db:
        if hasattr(db, "write_tables"):
            db.write_tables(tables)
        else:
            from facerec.stores.sqlite_dump import write_tables

            write_tables(db, tables)
    return time.perf_counter() - started


def door(location: str, name: str, seconds: float, log_rows: int, seed: int) -> dict:
    """One door process's measurements (see the module's docstring)."""
    from facerec.database import DoorEvent, FaceDatabase, now_utc

    started = time.perf_counter()
    db = FaceDatabase(location, door=name) if "://" in location else FaceDatabase(location)
    search, names = db.searcher("exact"), db.names_by_id()
    startup = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    queries = search.encodings[rng.integers(len(search.encodings), size=512)] + rng.normal(0, 0.02, (512, 128))
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    latencies, seen, known = [], {}, set(names.values())
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        current, names = db.searcher("exact"), db.names_by_id()
        _, ids = current.search(queries[len(latencies) % len(queries)], 1)
        names[int(ids[0, 0])]
        latencies.append(time.perf_counter() - t)
        if current is not search:
            search, now = current, time.time()
            for new in set(names.values()) - known:
                seen[new] = now
            known = set(names.values())
    log_latencies = []
    for i in range(log_rows):
        t = time.perf_counter()
        db.log_events([DoorEvent(now_utc(), "person_0000001", 0.3, True, f"{name}-{i}.jpg")], keep_days=None)
        log_latencies.append(time.perf_counter() - t)
    rss = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS")))
    db.close()
    return {"door": name, "startup_s": startup, "requests": len(latencies), "seconds": seconds,
            "latencies_ms": [x * 1000 for x in latencies], "log_ms": [x * 1000 for x in log_latencies],
            "seen": seen, "rss_mib": rss / 1024, "gallery_mib": search.encodings.nbytes / 2**20}


def run_doors(location: str, count: int, args) -> dict:
    """Start ``count`` door processes on ``location``, enroll new people while they answer; their figures."""
    from facerec.database import FaceDatabase
    from facerec.search import ENCODING_SIZE

    command = [sys.executable, __file__, "--door-worker", location, "--seconds", str(args.seconds),
               "--log-rows", str(args.log_rows)]
    env = {**os.environ, "FACEREC_QUEUE_DIR": str(Path(args.scratch) / "queues")}
    doors = [subprocess.Popen(command + ["--name", f"door{i + 1}", "--seed", str(i)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env) for i in range(count)]
    for process in doors:
        assert process.stdout.readline().strip() == "ready"
    for process in doors:
        process.stdin.write("go\n")
        process.stdin.flush()
    committed, rng = {}, np.random.default_rng(count)
    with FaceDatabase(location) as admin:
        for i in range(args.enroll):
            time.sleep(args.seconds / (args.enroll + 2))
            name = f"new_{count}_{i}"
            from facerec.database import FaceRecord

            vector = rng.normal(0, 0.09, ENCODING_SIZE).astype(np.float32)
            admin.add_faces(name, [FaceRecord(vector, "new.jpg", f"{i:064x}", (0, 0, 1, 1))], FINGERPRINT)
            committed[name] = time.time()
    results = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in doors]
    return summarise(results, committed)


def summarise(results: list[dict], committed: dict) -> dict:
    def pct(values, q):
        return round(float(np.percentile(values, q)), 3) if len(values) else None

    doors, everything, propagation = [], [], []
    for r in results:
        delays = [(r["seen"][n] - t) * 1000 for n, t in committed.items() if n in r["seen"]]
        propagation += delays
        everything += r["latencies_ms"]
        doors.append({"door": r["door"], "requests_per_s": round(r["requests"] / r["seconds"], 1),
                      "p50_ms": pct(r["latencies_ms"], 50), "p99_ms": pct(r["latencies_ms"], 99),
                      "log_p50_ms": pct(r["log_ms"], 50), "log_p99_ms": pct(r["log_ms"], 99),
                      "startup_s": round(r["startup_s"], 2), "rss_mib": round(r["rss_mib"], 1),
                      "gallery_mib": round(r["gallery_mib"], 1), "enrollments_seen": f"{len(delays)}/{len(committed)}"})
    return {"doors": doors, "all": {"requests_per_s": round(sum(d["requests_per_s"] for d in doors), 1),
                                    "p50_ms": pct(everything, 50), "p99_ms": pct(everything, 99),
                                    "propagation_p50_ms": pct(propagation, 50),
                                    "propagation_p99_ms": pct(propagation, 99),
                                    "propagation_max_ms": pct(propagation, 100)}}


def promise(per_person: int, sizes=(1_000, 10_000, 100_000, 1_000_000), false_alarm: float = 0.01) -> list[dict]:
    """The door's stranger promise (``false-alarm-1e-2``, dlib) at larger galleries, from dlib's model card.

    For each gallery of ``size`` people x ``per_person`` encodings: the per-pair false-accept rate the promise
    needs, ``1 - (1 - A)^(1/N)`` (facerec.operating_points.gallery_threshold), the threshold, whether the card's
    impostor table reaches that rate (else the threshold is its smallest distance and the promise is not backed
    by measurement), and the share of BFW residents admitted as themselves at that threshold: each of the 800
    BFW people enrolled with ``per_person`` photos, probed with their other 20 (nearest own photo within it).
    """
    import math

    from facerec.encoders.cache import read_encodings
    from facerec.encoders.dlib_resnet import model_card
    from facerec.operating_points import gallery_threshold

    card = model_card()
    smallest = card["impostor_distances"]["p"][0]
    by_person: dict[str, list[np.ndarray]] = {}
    for path, encoding in sorted(read_encodings(REPO / "datasets" / "bfw_dlib.h5").items()):
        by_person.setdefault(str(Path(path).parent), []).append(encoding)
    nearest = np.concatenate([np.linalg.norm(np.stack(v)[per_person:, None] - np.stack(v)[None, :per_person],
                                             axis=2).min(axis=1) for v in by_person.values()])
    rows = []
    for size in sizes:
        encodings = size * per_person
        per_pair = -math.expm1(math.log1p(-false_alarm) / encodings)
        threshold = gallery_threshold(card, false_alarm, encodings)
        rows.append({"people": size, "encodings": encodings, "per_pair_rate": per_pair, "threshold": threshold,
                     "measured": per_pair >= smallest, "card_smallest_rate": smallest,
                     "residents_admitted": float(np.mean(nearest <= threshold)), "probes": len(nearest)})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--per-person", type=int, default=5)
    parser.add_argument("--doors", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--enroll", type=int, default=10)
    parser.add_argument("--log-rows", type=int, default=50)
    parser.add_argument("--json", default=None)
    parser.add_argument("--scratch", default=None)
    parser.add_argument("--promise", action="store_true",
                        help="print only the stranger promise at 1k / 10k / 100k / 1M people (see promise())")
    parser.add_argument("--door-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="door", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.promise:
        print(json.dumps(promise(args.per_person), indent=1))
        return 0
    if args.door_worker:
        print(json.dumps(door(args.door_worker, args.name, args.seconds, args.log_rows, args.seed)))
        return 0
    return benchmark(args)


def benchmark(args) -> int:
    import tempfile

    from bench_common import machine
    from helpers_postgres import Cluster, postgres_bin

    args.scratch = args.scratch or tempfile.mkdtemp(prefix="facerec-doors-")
    groups, counts = gallery(args.people, args.per_person)
    print(f"gallery: {args.people:,} people x {args.per_person}: {counts}", flush=True)
    report = {"machine": machine(), "command": "python benchmarks/doors.py " + " ".join(sys.argv[1:]),
              "gallery": counts, "postgres": {}, "sqlite": {}}
    cluster = Cluster(postgres_bin(), fsync=True)
    try:
        for count in args.doors:
            url = cluster.url()
            report["postgres"][f"load_s_{count}"] = round(load(url, groups), 2)
            report["postgres"][f"{count}_doors"] = run_doors(url, count, args)
            print(json.dumps({f"postgres, {count} door(s)": report["postgres"][f"{count}_doors"]}), flush=True)
    finally:
        cluster.stop()
    path = str(Path(args.scratch) / "faces.sqlite")
    report["sqlite"]["load_s"] = round(load(path, groups), 2)
    report["sqlite"]["1_door"] = run_doors(path, 1, args)
    print(json.dumps({"sqlite, 1 door": report["sqlite"]["1_door"]}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
