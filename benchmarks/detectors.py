"""Face detectors compared: the fraction of photos with a face found, and the time per photo.

Detectors (:func:`facerec.detect_faces`, with facerec's upsampling rule):
``hog`` (dlib's HOG), ``cnn`` (dlib's MMOD CNN) and ``auto`` (HOG, then the
CNN only when HOG finds nothing).

* **LFW** (every photo shows a labelled face): HOG runs on all 13,233 photos.
  The CNN runs on every photo where HOG found nothing, which gives ``auto``'s
  figures on all 13,233 exactly, and on a seeded random sample of ``--sample``
  photos for the CNN's own found-fraction and time (running it on all 13,233
  would take about an hour on 2 cores).
* **Happy House** (the course's 18 96x96 crops): every detector on every photo.

Times are wall-clock seconds per photo in one process, decoding and the
models' loading excluded. Results are cached per photo in ``runs/detectors/`` (JSON lines), so
an interrupted run continues.

Usage: ``python benchmarks/detectors.py [--sample 1000] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "runs" / "detectors"


def time_detector(rgb: np.ndarray, detector: str) -> tuple[int, float]:
    """``(faces found, seconds)`` of one detection."""
    from facerec.align import detect_faces

    start = time.perf_counter()
    faces = detect_faces(rgb, detector=detector)
    return len(faces), time.perf_counter() - start


def measure(paths: list[Path], detector: str, cache_name: str, progress: bool) -> dict[str, tuple[int, float]]:
    """``{path: (faces, seconds)}`` of ``detector`` on ``paths``, cached in ``runs/detectors/<cache_name>.jsonl``."""
    from tqdm import tqdm

    from facerec.image import load_image

    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / f"{cache_name}.jsonl"
    known = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                known[row["path"]] = (row["faces"], row["seconds"])
    todo = [p for p in paths if str(p) not in known]
    if todo:
        time_detector(np.full((96, 96, 3), 128, np.uint8), detector)  # load the model outside the timings
    with open(cache, "a") as handle:
        for path in tqdm(todo, desc=f"{detector} on {cache_name}", unit="photo", disable=not progress):
            faces, seconds = time_detector(load_image(path), detector)
            known[str(path)] = (faces, seconds)
            handle.write(json.dumps({"path": str(path), "faces": faces, "seconds": round(seconds, 5)}) + "\n")
            handle.flush()
    return {str(p): known[str(p)] for p in paths}


def summary(rows: dict[str, tuple[int, float]]) -> dict:
    found = np.array([faces > 0 for faces, _ in rows.values()])
    seconds = np.array([s for _, s in rows.values()])
    return {"photos": len(rows), "found": float(found.mean()) if len(rows) else 0.0,
            "seconds_mean": float(seconds.mean()) if len(rows) else 0.0,
            "seconds_median": float(np.median(seconds)) if len(rows) else 0.0}


def lfw_figures(sample: int, seed: int, progress: bool) -> dict:
    from facerec.paths import assets_dir

    paths = sorted((assets_dir() / "lfw").rglob("*.jpg"))
    hog = measure(paths, "hog", "lfw_hog", progress)
    misses = [p for p in paths if hog[str(p)][0] == 0]
    cnn_on_misses = measure(misses, "cnn", "lfw_cnn", progress)
    rng = np.random.default_rng(seed)
    sampled = [paths[i] for i in sorted(rng.choice(len(paths), size=min(sample, len(paths)), replace=False))]
    cnn_sample = measure(sampled, "cnn", "lfw_cnn", progress)
    auto_found = np.mean([hog[str(p)][0] > 0 or cnn_on_misses.get(str(p), (0, 0))[0] > 0 for p in paths])
    auto_seconds = np.mean([hog[str(p)][1] + cnn_on_misses.get(str(p), (0, 0.0))[1] for p in paths])
    return {"hog": summary(hog), "cnn_sample": {**summary(cnn_sample), "seed": seed},
            "cnn_on_hog_misses": summary(cnn_on_misses),
            "auto": {"photos": len(paths), "found": float(auto_found), "seconds_mean": float(auto_seconds)}}


def happy_house_figures(progress: bool) -> dict:
    from facerec.paths import assets_dir

    paths = sorted((assets_dir() / "happy-house" / "images").iterdir())
    return {detector: summary(measure(paths, detector, f"happy_house_{detector}", progress))
            for detector in ("hog", "cnn", "auto")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=1000, help="LFW photos for the CNN's own figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-lfw", action="store_true", help="only the Happy House photos (quick)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    result = {"machine": f"{os.cpu_count()} cores", "happy_house": happy_house_figures(not args.json)}
    if not args.skip_lfw:
        result["lfw"] = lfw_figures(args.sample, args.seed, not args.json)
    if args.json:
        print(json.dumps(result))
        return 0
    for collection, block in (("Happy House", result["happy_house"]), ("LFW", result.get("lfw", {}))):
        for name, row in block.items():
            print(f"{collection:>11} {name:>18}: {row['photos']:>6} photos, face found in {row['found']:.4f}, "
                  f"{row['seconds_mean'] * 1000:.0f} ms per photo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
