"""The photo library's speed: indexing (local processes, a local Dask cluster), re-indexing, grouping, find.

Usage (each part prints JSON lines; BENCHMARKS.md "Photo library" quotes them)::

    nice python benchmarks/library.py overhead --engine dask      # per-photo overhead of the engine (no-op tasks)
    nice python benchmarks/library.py overhead --engine ray       # the same for Ray (in a venv that has Ray)
    nice python benchmarks/library.py index --photos 1000          # LFW's first N photos (0: all 13,233)
    nice python benchmarks/library.py cluster                      # grouping 13,233 LFW faces and 100,000

``overhead``: N no-op tasks (each returns a 128-float encoding, a box and a hash, as a photo's result does)
through the engine's local cluster of two single-threaded worker processes, against the same tasks in a
local ``multiprocessing`` pool of two processes, in the same command: the difference per task is what the
engine adds to each photo. ``index``: a fresh database indexes the photos with two local processes, again
with nothing new, then a second fresh database through a local Dask cluster of two workers (photos/s,
faces/s); then ``find`` latency on the first. ``cluster``: Chinese whispers (the default) on LFW's cached
dlib encodings and on 100,000 synthetic encodings (LFW's plus Gaussian noise: stated as synthetic).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def noop(job: str):
    """A photo's result without the work: an encoding, a box and a hash."""
    return job, np.zeros(128, np.float32), (0, 0, 10, 10), "0" * 64


def _pool_seconds(n: int) -> float:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        list(pool.imap_unordered(noop, [str(i) for i in range(100)], chunksize=4))  # warm
        start = time.perf_counter()
        list(pool.imap_unordered(noop, [str(i) for i in range(n)], chunksize=4))
        return time.perf_counter() - start


def _dask_seconds(n: int) -> float:
    from distributed import Client, LocalCluster, as_completed

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        client.gather(client.map(noop, [f"w{i}" for i in range(100)], pure=False))
        start = time.perf_counter()
        for future in as_completed(client.map(noop, [str(i) for i in range(n)], pure=False)):
            future.result()
        return time.perf_counter() - start


def _ray_seconds(n: int) -> float:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(noop)
    ray.get([remote.remote(f"w{i}") for i in range(100)])
    start = time.perf_counter()
    pending = [remote.remote(str(i)) for i in range(n)]
    while pending:
        done, pending = ray.wait(pending, num_returns=min(len(pending), 64))
        ray.get(done)
    seconds = time.perf_counter() - start
    ray.shutdown()
    return seconds


def overhead(engine: str, n: int) -> dict:
    pool = _pool_seconds(n)
    seconds = (_dask_seconds if engine == "dask" else _ray_seconds)(n)
    return {"part": "overhead", "engine": engine, "tasks": n, "pool_ms_per_task": round(1000 * pool / n, 3),
            "engine_ms_per_task": round(1000 * seconds / n, 3),
            "added_ms_per_photo": round(1000 * (seconds - pool) / n, 3), "ratio_to_pool": round(seconds / pool, 2)}


def _lfw_photos(count: int) -> list[Path]:
    from facerec.paths import assets_dir

    root = assets_dir() / "lfw"
    photos = sorted(root.glob("*/*.jpg"))
    return photos[:count] if count else photos


def _folder(photos: list[Path], where: Path) -> Path:
    """A folder of symbolic links to the photos (Name/Name_NNNN.jpg), so nothing is copied."""
    folder = where / "photos"
    for photo in photos:
        (folder / photo.parent.name).mkdir(parents=True, exist_ok=True)
        (folder / photo.parent.name / photo.name).symlink_to(photo)
    return folder


def index_run(count: int, dask: bool) -> None:
    from facerec.database import FaceDatabase
    from facerec.library import people
    from facerec.library.index import index

    photos = _lfw_photos(count)
    with tempfile.TemporaryDirectory() as tmp:
        folder = _folder(photos, Path(tmp))
        with FaceDatabase(Path(tmp) / "local.sqlite") as db:
            start = time.perf_counter()
            report = index(db, [folder], workers=2, detector="hog")
            seconds = time.perf_counter() - start
            _print({"part": "index", "runner": "2 local processes", "photos": report.photos, "faces": report.faces,
                    "seconds": round(seconds, 1), "photos_per_s": round(report.photos / seconds, 2),
                    "faces_per_s": round(report.faces / seconds, 2), "failed": len(report.failed)})
            start = time.perf_counter()
            again = index(db, [folder], workers=2, detector="hog")
            _print({"part": "reindex", "photos": again.photos, "encoded": again.encoded,
                    "seconds": round(time.perf_counter() - start, 2)})
            _find(db, people)
        if dask:
            from facerec.library.distributed import dask_runner, local_cluster

            with local_cluster(2) as cluster, FaceDatabase(Path(tmp) / "dask.sqlite") as db:
                start = time.perf_counter()
                report = index(db, [folder], detector="hog", runner=dask_runner(cluster))
                seconds = time.perf_counter() - start
            _print({"part": "index", "runner": "local Dask cluster, 2 workers", "photos": report.photos,
                    "faces": report.faces, "seconds": round(seconds, 1),
                    "photos_per_s": round(report.photos / seconds, 2), "faces_per_s": round(report.faces / seconds, 2)})


def _find(db, people) -> None:
    """Group, name the biggest group, and time ``find`` (median of 20)."""
    import statistics

    start = time.perf_counter()
    people.group_faces(db)
    grouping = time.perf_counter() - start
    groups = people.groups(db)
    if not groups:
        return
    people.name_group(db, groups[0]["group"], "Benchmark Person")
    times = []
    for _ in range(20):
        start = time.perf_counter()
        hits = people.find(db, "Benchmark Person")
        times.append(time.perf_counter() - start)
    _print({"part": "find", "library_faces": int(db._query("SELECT count(*) FROM library_faces")[0][0]),
            "hits": len(hits), "median_ms": round(1000 * statistics.median(times), 1),
            "cluster_s_incl_db": round(grouping, 2)})


def cluster_run(synthetic: int) -> None:
    from facerec.encoders.cache import read_encodings
    from facerec.library.grouping import cluster

    known = read_encodings(REPO / "datasets" / "lfw_dlib.h5")
    lfw = np.stack(list(known.values())).astype(np.float32)
    for label, data in (("LFW (real)", lfw), (f"{synthetic:,} synthetic", _synthetic(lfw, synthetic))):
        start = time.perf_counter()
        labels = cluster(data)
        _print({"part": "cluster", "faces": len(data), "data": label, "method": "chinese-whispers 0.45",
                "seconds": round(time.perf_counter() - start, 1), "groups": int(len(np.unique(labels)))})


def _synthetic(base: np.ndarray, n: int) -> np.ndarray:
    """``n`` encodings: LFW's, then LFW's plus Gaussian noise (sigma 0.02 a dimension: about 0.23 L2 apart)."""
    rng = np.random.default_rng(0)
    extra = base[rng.integers(0, len(base), n - len(base))] + rng.normal(0, 0.02, (n - len(base), 128))
    return np.concatenate([base, extra.astype(np.float32)])


def _print(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)
    sub = parts.add_parser("overhead")
    sub.add_argument("--engine", choices=["dask", "ray"], required=True)
    sub.add_argument("--tasks", type=int, default=2000)
    sub = parts.add_parser("index")
    sub.add_argument("--photos", type=int, default=1000, help="LFW's first N photos, sorted by path (0: all)")
    sub.add_argument("--no-dask", action="store_true")
    sub = parts.add_parser("cluster")
    sub.add_argument("--synthetic", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps({"machine": os.uname().machine, "cpus": os.cpu_count(), "load": os.getloadavg()[0],
                      "python": sys.version.split()[0]}), flush=True)
    if args.part == "overhead":
        _print(overhead(args.engine, args.tasks))
    elif args.part == "index":
        index_run(args.photos, not args.no_dask)
    else:
        cluster_run(args.synthetic)


if __name__ == "__main__":
    main()
