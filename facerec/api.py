"""The small public API: encode faces, compare them, verify and identify people.

Conventions used by every function here:

* images are file paths or RGB arrays (anything :func:`facerec.load_image` takes);
* a face's ``box`` is ``(left, top, right, bottom)`` in pixels of the image as
  loaded (after EXIF rotation); faces are ordered largest first;
* encodings are ``(128,)`` float32 vectors (unit length for ``nn4``, close to it for
  ``dlib``); distances are L2 distances between encodings;
* ``encoder`` is an encoder object (:func:`facerec.encoders.load_encoder`); default:
  the database's own encoder, or :data:`facerec.encoders.DEFAULT_ENCODER` without a database;
* faces are found by ``detector`` (``"auto"`` by default: HOG, then dlib's CNN when
  HOG finds nothing); an image without a detected face raises ``FaceNotFound``,
  whatever its size;
* two faces are the same person when ``distance <= threshold``. The threshold is
  chosen by exactly one of ``threshold`` (a raw distance), ``operating_point`` (a
  name from the encoder's model card), ``far`` (a pair false-accept rate) or
  ``false_alarm`` (the rate at which a stranger is accepted as anyone in the
  gallery); default: the card's ``default_operating_point``, ``false-alarm-1e-2``
  (see :mod:`facerec.operating_points`). :func:`verify` can instead ask a siamese
  head for p(same) (nn4 only, see :mod:`facerec.head`);
* ``db`` is a :class:`facerec.database.FaceDatabase` or the path of one (which
  must already exist; it is opened and closed around the call).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from facerec.align import DEFAULT_DETECTOR, Face, find_faces
from facerec.cohort import Cohort, encoder_cohort, gate, promise
from facerec.database import FaceDatabase
from facerec.distances import ENCODING_SIZE, block_distance
from facerec.exceptions import InvalidArgument
from facerec.head import DECISION, load_method_head
from facerec.image import ImageInput
from facerec.operating_points import Threshold, resolve

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
        operating_point: the threshold's operating point (see :class:`facerec.operating_points.Threshold`).
        encoder: the encoder's name.
        cohort_score: the cohort rule's score of the closest person (:mod:`facerec.cohort`; ``None`` when the
            rule was not applied: an explicit threshold or operating point, or an encoder without a cohort).
        cohort_limit: the rule's ``alpha``: a face is let in only when ``cohort_score <= cohort_limit`` too.
        promise: with the cohort rule, the stranger rate measured for it at this gallery's size
            (:func:`facerec.cohort.promise`: ``strangers_per_100``, ``people_measured``, ``text``).
    """

    image: str
    box: tuple[int, int, int, int]
    identity: str | None
    distance: float
    threshold: float
    candidates: list[Match] = field(default_factory=list)
    operating_point: str = "threshold"
    encoder: str = ""
    cohort_score: float | None = None
    cohort_limit: float | None = None
    promise: dict | None = None

    @property
    def closest(self) -> str:
        """Name of the closest person, accepted or not."""
        return self.candidates[0].name

    def to_json(self) -> dict:
        """``{"image", "box", "identity", "distance", "threshold", "candidates", "operating_point", "encoder",
        "cohort_score", "cohort_limit", "promise"}``."""
        score = None if self.cohort_score is None else round(self.cohort_score, 6)
        return {"image": self.image, "box": list(self.box), "identity": self.identity,
                "distance": round(self.distance, 6), "threshold": round(self.threshold, 6),
                "candidates": [{"name": m.name, "distance": round(m.distance, 6)} for m in self.candidates],
                "operating_point": self.operating_point, "encoder": self.encoder,
                "cohort_score": score, "cohort_limit": self.cohort_limit, "promise": self.promise}


@dataclass(frozen=True)
class VerifyResult:
    """Verification of one photo against one claimed identity.

    Attributes:
        image: the image's path as given (``"array"`` for arrays).
        name: the claimed identity.
        match: ``distance <= threshold`` (method ``l2``), or ``probability >= threshold`` (a head).
        distance: the encoder's distance (L2; dlib+facenet: summed over its blocks) from the photo's largest
            face to the closest of ``name``'s photos.
        threshold: the threshold applied: an L2 distance (``l2``) or a probability (a head).
        box: ``(left, top, right, bottom)`` pixels of the face used.
        probability: a siamese head's p(same person), the highest over ``name``'s photos; ``None`` for ``l2``.
        method: ``"l2"``, ``"head-abs"`` or ``"head-chi2"``.
        operating_point: the threshold's operating point (``"head"`` for a head's probability).
        encoder: the encoder's name.
        cohort_score, cohort_limit, promise: the default decision's cohort rule (as in :class:`FaceResult`;
            ``None`` when it was not applied); ``match`` then also needs ``cohort_score <= cohort_limit``.
    """

    image: str
    name: str
    match: bool
    distance: float
    threshold: float
    box: tuple[int, int, int, int]
    probability: float | None = None
    method: str = "l2"
    operating_point: str = "threshold"
    encoder: str = ""
    cohort_score: float | None = None
    cohort_limit: float | None = None
    promise: dict | None = None

    def to_json(self) -> dict:
        """The fields as a JSON-ready dict."""
        probability = None if self.probability is None else round(self.probability, 6)
        score = None if self.cohort_score is None else round(self.cohort_score, 6)
        return {"image": self.image, "name": self.name, "match": self.match, "distance": round(self.distance, 6),
                "threshold": round(self.threshold, 6), "box": list(self.box), "probability": probability,
                "method": self.method, "operating_point": self.operating_point, "encoder": self.encoder,
                "cohort_score": score, "cohort_limit": self.cohort_limit, "promise": self.promise}


def _label(image: ImageInput) -> str:
    return "array" if isinstance(image, np.ndarray) else os.fspath(image)


def _encoder(encoder, database: FaceDatabase | None = None):
    """``encoder``, else the database's own, else the default encoder."""
    if encoder is not None:
        return encoder
    if database is not None:
        return database.load_encoder()
    from facerec.encoders import load_encoder

    return load_encoder()


def decision_threshold(encoder, gallery_size: int | None, threshold: float | None = None,
                       operating_point: str | None = None, far: float | None = None,
                       false_alarm: float | None = None) -> Threshold:
    """The threshold asked for, from ``encoder``'s model card (see :func:`facerec.operating_points.resolve`).

    Args:
        encoder: the encoder whose card holds the operating points.
        gallery_size: encodings a query is compared with (for gallery points).
    """
    return resolve(encoder.card(), threshold, operating_point, far, false_alarm, gallery_size)


def decision_cohort(encoder, threshold: float | None = None, operating_point: str | None = None,
                    far: float | None = None, false_alarm: float | None = None,
                    extra_cohort: np.ndarray | None = None) -> Cohort | None:
    """The cohort rule (:mod:`facerec.cohort`) that the default decision adds to its threshold, else ``None``.

    It applies when no threshold, operating point, far or false alarm is asked for (the card's default)
    and the encoder's card has a cohort. ``extra_cohort``: ``(N, D)`` more stranger encodings (e.g. the
    door's known strangers) added to the card's.
    """
    if any(value is not None for value in (threshold, operating_point, far, false_alarm)):
        return None
    cohort = encoder_cohort(encoder)
    return None if cohort is None else cohort.with_extra(extra_cohort)


@contextmanager
def using_database(db: DatabaseInput) -> Iterator[FaceDatabase]:
    """Yield ``db`` itself, or open the existing database at that path and close it afterwards."""
    if isinstance(db, FaceDatabase):
        yield db
        return
    with FaceDatabase(db, create=False) as opened:
        yield opened


def encode_faces(image: ImageInput, all_faces: bool = False, encoder=None,
                 detector: str = DEFAULT_DETECTOR) -> tuple[np.ndarray, list[Face]]:
    """Encode the faces of an image.

    Args:
        image: path or array.
        all_faces: encode every face, or (default) only the largest.
        encoder: an encoder object (default: :data:`facerec.encoders.DEFAULT_ENCODER`'s).
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default).

    Returns:
        ``(encodings, faces)``: ``(F, 128)`` float32 encodings and the ``F``
        matching :class:`facerec.align.Face` objects, largest first (``F == 1``
        unless ``all_faces``).

    Raises:
        FaceNotFound: no face in the image (never an empty result).
    """
    rgb, faces = find_faces(image, all_faces=all_faces, detector=detector)
    return _encoder(encoder).encode_faces(rgb, faces), faces


def face_distance(known: np.ndarray, query: np.ndarray, blocks: tuple[int, ...] | None = None) -> np.ndarray:
    """Distances from one encoding to many: L2, summed over the encoder's blocks (:mod:`facerec.distances`).

    Args:
        known: ``(N, D)`` encodings (``N`` may be 0; ``D`` is 128 for dlib and nn4, 640 for dlib+facenet).
        query: ``(D,)`` encoding.
        blocks: the encoder's block widths (its ``blocks``; default one block: plain L2).

    Returns:
        ``(N,)`` float32 distances, in the order of ``known``.
    """
    known = np.asarray(known, dtype=np.float32)
    query = np.asarray(query, dtype=np.float32)
    if known.size == 0:
        return np.zeros(0, np.float32)
    if known.ndim != 2 or query.shape != (known.shape[1],) or (blocks is None and known.shape[1] != ENCODING_SIZE):
        raise InvalidArgument(f"expected known (N, D) and query (D,) with D = {ENCODING_SIZE} (or the blocks' sum), "
                              f"got {known.shape} and {query.shape}")
    return block_distance(known, query, blocks).astype(np.float32)


def _probability_threshold(threshold: float | None) -> float:
    if threshold is None:
        return DECISION
    if not 0 < threshold < 1:
        raise InvalidArgument(f"with a siamese head the threshold is a probability in (0, 1), got {threshold}")
    return float(threshold)


def verify(image: ImageInput, name: str, db: DatabaseInput, threshold: float | None = None,
           encoder=None, method: str = "l2", operating_point: str | None = None, far: float | None = None,
           false_alarm: float | None = None, detector: str = DEFAULT_DETECTOR) -> VerifyResult:
    """Is the largest face of ``image`` the enrolled person ``name``? (1:1)

    The distance is to the closest of ``name``'s enrolled photos, so a gallery
    point (the default, ``false-alarm-1e-2``) is derived for that person's
    number of photos: an impostor claiming to be ``name`` is accepted at most 1 %
    of the time.

    Args:
        image: path or array.
        name: the claimed identity.
        db: database or its path.
        threshold, operating_point, far, false_alarm: the decision threshold (at most one;
            see the module docstring). With a head, ``threshold`` is a probability
            (accept when ``probability >= threshold``, default 0.5) and the others do not apply.
        encoder: an encoder object (default: the database's own).
        method: ``"l2"`` (default), or ``"head-abs"`` / ``"head-chi2"`` (nn4 databases only): the
            siamese head ``weights/head_<form>.npz`` (:mod:`facerec.head`) gives p(same person) for each
            of ``name``'s photos and ``probability`` is the highest. Trained with binary cross-entropy
            on balanced pairs, it is a probability for equal priors of "same" and "different".
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default).

    Raises:
        FaceNotFound: no face in the image.
        UnknownIdentity: ``name`` is not enrolled (the message lists who is).
        ModelMismatch: the database (or the head) was built with another encoder or other weights.
        WeightsError: the head's file is missing (train it with ``facerec train-head``).
        InvalidArgument: an unknown method or operating point, a threshold out of range.
    """
    with using_database(db) as database:
        encoder = _encoder(encoder, database)
        head = None if method == "l2" else load_method_head(method, encoder)
        known, _ = database.encodings(name)
        database.check_encoder(encoder)
        strangers = database.known_strangers()  # visits reviewed as "not anyone we know": more cohort
        if head is None:
            decision = decision_threshold(encoder, len(known), threshold, operating_point, far, false_alarm)
        else:
            if any(v is not None for v in (operating_point, far, false_alarm)):
                raise InvalidArgument("a siamese head decides by probability: give --threshold P, not an operating "
                                      "point, far or false alarm")
            decision = Threshold(_probability_threshold(threshold), "head")
        encodings, faces = encode_faces(image, encoder=encoder, detector=detector)
    distance = float(face_distance(known, encodings[0], getattr(encoder, "blocks", None)).min())
    common = {"box": faces[0].box, "operating_point": decision.operating_point, "encoder": encoder.name}
    if head is None:
        cohort = decision_cohort(encoder, threshold, operating_point, far, false_alarm, strangers)
        match, scores = gate(cohort, known, np.zeros(len(known)), encodings[:1], np.zeros(1), np.array([distance]),
                             decision.value)
        extra = {} if scores is None else {"cohort_score": float(scores[0]), "cohort_limit": cohort.alpha,
                                           "promise": promise(encoder.card(), 1)}
        return VerifyResult(_label(image), name, bool(match[0]), distance, decision.value, **common, **extra)
    probability = float(head.probability(known, encodings[0]).max())
    return VerifyResult(_label(image), name, probability >= decision.value, distance, decision.value,
                        probability=probability, method=method, **common)


def identify_faces(rgb: np.ndarray, faces: list[Face], db: DatabaseInput, k: int = 1,
                   threshold: float | None = None, encoder=None, backend: str = "exact",
                   label: str = "array", operating_point: str | None = None, far: float | None = None,
                   false_alarm: float | None = None, extra_cohort: np.ndarray | None = None) -> list[FaceResult]:
    """Identify already-detected faces of a loaded image (used for video frames).

    Args:
        rgb: RGB uint8 image ``(h, w, 3)``.
        faces: faces found in it (e.g. by :func:`facerec.detect_faces`); may be empty.
        db, k, threshold, encoder, backend, operating_point, far, false_alarm, extra_cohort: as in :func:`identify`.
        label: the ``image`` field of the results.

    Returns:
        One :class:`FaceResult` per face, in the order of ``faces``.
    """
    return identify_faces_encoded(rgb, faces, db, k, threshold, encoder, backend, label, operating_point, far,
                                  false_alarm, extra_cohort)[0]


def identify_faces_encoded(rgb: np.ndarray, faces: list[Face], db: DatabaseInput, k: int = 1,
                           threshold: float | None = None, encoder=None, backend: str = "exact",
                           label: str = "array", operating_point: str | None = None, far: float | None = None,
                           false_alarm: float | None = None,
                           extra_cohort: np.ndarray | None = None) -> tuple[list[FaceResult], np.ndarray]:
    """:func:`identify_faces` and the faces' encodings ``(len(faces), 128)`` (the door tracks them).

    ``extra_cohort``: more stranger encodings for the default decision's cohort rule (:func:`decision_cohort`).
    """
    if not faces:
        return [], np.zeros((0, ENCODING_SIZE), np.float32)
    with using_database(db) as database:
        encoder = _encoder(encoder, database)
        database.check_encoder(encoder)
        search = database.searcher(backend)
        names = database.names_by_id()
        if extra_cohort is None:  # default: the visits reviewed as "not anyone we know"
            extra_cohort = database.known_strangers()
        decision = decision_threshold(encoder, database.count_faces(), threshold, operating_point, far, false_alarm)
        cohort = decision_cohort(encoder, threshold, operating_point, far, false_alarm, extra_cohort)
    encodings = encoder.encode_faces(rgb, faces)
    distances, ids = search.search(encodings, k)
    admitted, scores = gate(cohort, search.encodings, search.person_ids, encodings, ids[:, 0], distances[:, 0],
                            decision.value)
    results = []
    told = None if scores is None else promise(encoder.card(), search.n_people)
    for row, (face, row_d, row_ids) in enumerate(zip(faces, distances, ids)):
        candidates = [Match(names[int(i)], float(d)) for d, i in zip(row_d, row_ids)]
        best = candidates[0]
        extra = {} if scores is None else {"cohort_score": float(scores[row]), "cohort_limit": cohort.alpha,
                                           "promise": told}
        results.append(FaceResult(label, face.box, best.name if admitted[row] else None, best.distance,
                                  decision.value, candidates, decision.operating_point, encoder.name, **extra))
    return results, np.asarray(encodings, np.float32).reshape(len(faces), -1)


def identify(image: ImageInput, db: DatabaseInput, k: int = 1, threshold: float | None = None,
             encoder=None, backend: str = "exact", operating_point: str | None = None, far: float | None = None,
             false_alarm: float | None = None, detector: str = DEFAULT_DETECTOR,
             extra_cohort: np.ndarray | None = None) -> list[FaceResult]:
    """Who is in this image? (1:K, every face)

    Each face is compared with every stored encoding; a person's distance is
    that of their closest photo.

    Args:
        image: path or array.
        db: database or its path.
        k: candidates per face (default 1), closest first.
        threshold, operating_point, far, false_alarm: the decision threshold (at most one; default the
            card's ``false-alarm-1e-2``, derived for the database's number of encodings, and the card's cohort
            rule on top: :mod:`facerec.cohort`).
        encoder: an encoder object (default: the database's own).
        backend: ``"exact"`` (default), ``"faiss-flat"`` or ``"faiss-hnsw"`` (see :mod:`facerec.search`).
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default).
        extra_cohort: ``(N, 128)`` more stranger encodings for the cohort rule (default: the database's known
            strangers, the visits reviewed as "not anyone we know"; see :func:`decision_cohort`).

    Returns:
        One :class:`FaceResult` per face, largest face first.

    Raises:
        FaceNotFound: no face in the image.
        EmptyDatabase: nobody is enrolled.
        ModelMismatch: the database was built with another encoder or other weights.
    """
    with using_database(db) as database:
        if database.count_faces() == 0:
            database.searcher(backend)  # raises EmptyDatabase before any detection work
        rgb, faces = find_faces(image, detector=detector)
        return identify_faces(rgb, faces, database, k, threshold, encoder, backend, _label(image),
                              operating_point, far, false_alarm, extra_cohort)
