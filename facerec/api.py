"""The small public API: encode faces, compare them, verify and identify people.

Conventions used by every function here:

* images are file paths or RGB arrays (anything :func:`facerec.load_image` takes);
* a face's ``box`` is ``(left, top, right, bottom)`` in pixels of the image as
  loaded (after EXIF rotation); faces are ordered largest first;
* encodings are ``(128,)`` float32 unit vectors; distances are L2 distances
  between encodings (0 = identical, 2 = opposite);
* two faces are the same person when ``distance <= threshold``; the default
  threshold is :func:`facerec.encoder.default_threshold` of the weights in use
  (:func:`verify` can instead ask a siamese head for p(same), see :mod:`facerec.head`);
* ``db`` is a :class:`facerec.database.FaceDatabase` or the path of one (which
  must already exist; it is opened and closed around the call).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from facerec.align import Face, align_all, detect_faces, face_from_box, is_face_crop_sized
from facerec.database import FaceDatabase
from facerec.exceptions import FaceNotFound, InvalidArgument
from facerec.head import DECISION, load_method_head
from facerec.image import ImageInput, load_image
from facerec.search import ENCODING_SIZE

DatabaseInput = FaceDatabase | str | os.PathLike


@dataclass(frozen=True)
class Match:
    """A candidate identity: a person's name and the L2 distance to their closest enrolled photo."""

    name: str
    distance: float


@dataclass(frozen=True)
class FaceResult:
    """Identification of one face.

    Attributes:
        image: the image's path as given (``"array"`` for arrays).
        box: ``(left, top, right, bottom)`` pixels of the face.
        identity: the closest person's name if their distance is within the
            threshold, else ``None`` (unknown).
        distance: L2 distance to the closest person (whether accepted or not).
        threshold: the threshold applied.
        candidates: the ``k`` closest people, closest first.
    """

    image: str
    box: tuple[int, int, int, int]
    identity: str | None
    distance: float
    threshold: float
    candidates: list[Match] = field(default_factory=list)

    @property
    def closest(self) -> str:
        """Name of the closest person, accepted or not."""
        return self.candidates[0].name

    def to_json(self) -> dict:
        """``{"image", "box", "identity", "distance", "threshold", "candidates"}`` (JSON-ready)."""
        return {"image": self.image, "box": list(self.box), "identity": self.identity,
                "distance": round(self.distance, 6), "threshold": self.threshold,
                "candidates": [{"name": m.name, "distance": round(m.distance, 6)} for m in self.candidates]}


@dataclass(frozen=True)
class VerifyResult:
    """Verification of one photo against one claimed identity.

    Attributes:
        image: the image's path as given (``"array"`` for arrays).
        name: the claimed identity.
        match: ``distance <= threshold`` (method ``l2``), or ``probability >= threshold`` (a head).
        distance: L2 distance from the photo's largest face to the closest of ``name``'s photos.
        threshold: the threshold applied: an L2 distance (``l2``) or a probability (a head).
        box: ``(left, top, right, bottom)`` pixels of the face used.
        probability: a siamese head's p(same person), the highest over ``name``'s photos; ``None`` for ``l2``.
        method: ``"l2"``, ``"head-abs"`` or ``"head-chi2"``.
    """

    image: str
    name: str
    match: bool
    distance: float
    threshold: float
    box: tuple[int, int, int, int]
    probability: float | None = None
    method: str = "l2"

    def to_json(self) -> dict:
        """The fields as a JSON-ready dict."""
        probability = None if self.probability is None else round(self.probability, 6)
        return {"image": self.image, "name": self.name, "match": self.match, "distance": round(self.distance, 6),
                "threshold": self.threshold, "box": list(self.box), "probability": probability,
                "method": self.method}


def _label(image: ImageInput) -> str:
    return "array" if isinstance(image, np.ndarray) else os.fspath(image)


def _encoder(encoder):
    from facerec.encoder import get_encoder

    return encoder or get_encoder()


def _threshold(threshold: float | None, encoder) -> float:
    from facerec.encoder import default_threshold

    if threshold is None:
        return default_threshold(encoder.weights_dir)
    if not np.isfinite(threshold) or threshold < 0:
        raise InvalidArgument(f"threshold must be a non-negative L2 distance, got {threshold}")
    return float(threshold)


@contextmanager
def using_database(db: DatabaseInput) -> Iterator[FaceDatabase]:
    """Yield ``db`` itself, or open the existing database at that path and close it afterwards."""
    if isinstance(db, FaceDatabase):
        yield db
        return
    with FaceDatabase(db, create=False) as opened:
        yield opened


def find_faces(image: ImageInput, all_faces: bool = True) -> tuple[np.ndarray, list[Face]]:
    """Load an image and find its faces.

    Crop-sized images (32 to 200 px a side, like the course's 96x96 photos) in
    which the detector finds nothing count as one face filling the image.

    Args:
        image: path or array.
        all_faces: every face (default), or only the largest.

    Returns:
        ``(rgb, faces)``: the RGB uint8 image ``(h, w, 3)`` and its faces, largest first.

    Raises:
        FaceNotFound: no face in the image.
    """
    rgb = load_image(image)
    faces = detect_faces(rgb)
    if not faces and is_face_crop_sized(rgb):
        faces = [face_from_box(rgb, (0, 0, rgb.shape[1], rgb.shape[0]))]
    if not faces:
        raise FaceNotFound(f"no face found in {_label(image)}; use a photo where the face is frontal "
                           "and at least about 40 pixels wide")
    return rgb, faces if all_faces else faces[:1]


def encode_faces(image: ImageInput, all_faces: bool = False, encoder=None) -> tuple[np.ndarray, list[Face]]:
    """Encode the faces of an image.

    Args:
        image: path or array.
        all_faces: encode every face, or (default) only the largest.
        encoder: a :class:`facerec.encoder.FaceEncoder` (default: the shared one).

    Returns:
        ``(encodings, faces)``: ``(F, 128)`` float32 unit encodings and the ``F``
        matching :class:`facerec.align.Face` objects, largest first (``F == 1``
        unless ``all_faces``).

    Raises:
        FaceNotFound: no face in the image (never an empty result).
    """
    rgb, faces = find_faces(image, all_faces=all_faces)
    return _encoder(encoder).encode(align_all(rgb, faces)), faces


def face_distance(known: np.ndarray, query: np.ndarray) -> np.ndarray:
    """L2 distances from one encoding to many.

    Args:
        known: ``(N, 128)`` encodings (``N`` may be 0).
        query: ``(128,)`` encoding.

    Returns:
        ``(N,)`` float32 distances, in the order of ``known``.
    """
    known = np.asarray(known, dtype=np.float32)
    query = np.asarray(query, dtype=np.float32)
    if known.size == 0:
        return np.zeros(0, np.float32)
    if known.ndim != 2 or known.shape[1] != ENCODING_SIZE or query.shape != (ENCODING_SIZE,):
        raise InvalidArgument(f"expected known (N, {ENCODING_SIZE}) and query ({ENCODING_SIZE},), "
                              f"got {known.shape} and {query.shape}")
    return np.linalg.norm(known - query, axis=1)


def _probability_threshold(threshold: float | None) -> float:
    if threshold is None:
        return DECISION
    if not 0 < threshold < 1:
        raise InvalidArgument(f"with a siamese head the threshold is a probability in (0, 1), got {threshold}")
    return float(threshold)


def verify(image: ImageInput, name: str, db: DatabaseInput, threshold: float | None = None,
           encoder=None, method: str = "l2") -> VerifyResult:
    """Is the largest face of ``image`` the enrolled person ``name``? (1:1)

    The distance is to the closest of ``name``'s enrolled photos.

    Args:
        image: path or array.
        name: the claimed identity.
        db: database or its path.
        threshold: ``l2``: accept when ``distance <= threshold`` (default: the weights'
            :func:`~facerec.encoder.default_threshold`); a head: accept when ``probability >= threshold``
            (default 0.5).
        encoder: a :class:`facerec.encoder.FaceEncoder` (default: the shared one).
        method: ``"l2"`` (default), or ``"head-abs"`` / ``"head-chi2"``: the siamese head
            ``weights/head_<form>.npz`` (:mod:`facerec.head`) gives p(same person) for each of ``name``'s
            photos and ``probability`` is the highest. Trained with binary cross-entropy on balanced pairs,
            it is a probability for equal priors of "same" and "different".

    Raises:
        FaceNotFound: no face in the image.
        UnknownIdentity: ``name`` is not enrolled (the message lists who is).
        ModelMismatch: the database (or the head) was built with other weights.
        WeightsError: the head's file is missing (train it with ``facerec train-head``).
        InvalidArgument: an unknown method, or a threshold out of range.
    """
    encoder = _encoder(encoder)
    head = None if method == "l2" else load_method_head(method, encoder)
    threshold = _threshold(threshold, encoder) if head is None else _probability_threshold(threshold)
    with using_database(db) as database:
        known, _ = database.encodings(name)
        database.check_model(encoder.fingerprint)
        encodings, faces = encode_faces(image, encoder=encoder)
    distance = float(face_distance(known, encodings[0]).min())
    if head is None:
        return VerifyResult(_label(image), name, distance <= threshold, distance, threshold, faces[0].box)
    probability = float(head.probability(known, encodings[0]).max())
    return VerifyResult(_label(image), name, probability >= threshold, distance, threshold, faces[0].box,
                        probability, method)


def identify_faces(rgb: np.ndarray, faces: list[Face], db: DatabaseInput, k: int = 1,
                   threshold: float | None = None, encoder=None, backend: str = "exact",
                   label: str = "array") -> list[FaceResult]:
    """Identify already-detected faces of a loaded image (used for video frames).

    Args:
        rgb: RGB uint8 image ``(h, w, 3)``.
        faces: faces found in it (e.g. by :func:`facerec.detect_faces`); may be empty.
        db, k, threshold, encoder, backend: as in :func:`identify`.
        label: the ``image`` field of the results.

    Returns:
        One :class:`FaceResult` per face, in the order of ``faces``.
    """
    if not faces:
        return []
    encoder = _encoder(encoder)
    threshold = _threshold(threshold, encoder)
    with using_database(db) as database:
        database.check_model(encoder.fingerprint)
        search = database.searcher(backend)
        names = database.names_by_id()
    distances, ids = search.search(encoder.encode(align_all(rgb, faces)), k)
    results = []
    for face, row_d, row_ids in zip(faces, distances, ids):
        candidates = [Match(names[int(i)], float(d)) for d, i in zip(row_d, row_ids)]
        best = candidates[0]
        results.append(FaceResult(label, face.box, best.name if best.distance <= threshold else None,
                                  best.distance, threshold, candidates))
    return results


def identify(image: ImageInput, db: DatabaseInput, k: int = 1, threshold: float | None = None,
             encoder=None, backend: str = "exact") -> list[FaceResult]:
    """Who is in this image? (1:K, every face)

    Each face is compared with every stored encoding; a person's distance is
    that of their closest photo.

    Args:
        image: path or array.
        db: database or its path.
        k: candidates per face (default 1), closest first.
        threshold: accept the closest person when ``distance <= threshold``
            (default: the weights' :func:`~facerec.encoder.default_threshold`).
        encoder: a :class:`facerec.encoder.FaceEncoder` (default: the shared one).
        backend: ``"exact"`` (default), ``"faiss-flat"`` or ``"faiss-hnsw"`` (see :mod:`facerec.search`).

    Returns:
        One :class:`FaceResult` per face, largest face first.

    Raises:
        FaceNotFound: no face in the image.
        EmptyDatabase: nobody is enrolled.
        ModelMismatch: the database was built with other weights.
    """
    rgb, faces = find_faces(image)
    return identify_faces(rgb, faces, db, k, threshold, encoder, backend, label=_label(image))
