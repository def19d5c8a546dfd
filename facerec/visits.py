"""Visits: faces tracked across frames, one identity decision per visit.

A :class:`Tracker` joins each frame's faces (:class:`Sighting`) to the open tracks
by box overlap (IoU) and encoding distance; a track whose face has not been seen for
``timeout`` seconds of stream time ends, and becomes a :class:`Visit`. The visit's
decision (:func:`decide`) uses its best frames only: frames whose face is too small
or too blurred (variance of the Laplacian, :func:`sharpness`) do not count, the
``best`` sharpest-and-largest of the others are kept, and each candidate's distance
is the median of their distances to that candidate; the closest candidate is the
identity when that median is within the operating point's threshold.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import cv2
import numpy as np

VISIT_TIMEOUT = 2.0  # seconds of stream time after a face leaves before its visit ends
MIN_IOU = 0.3  # boxes overlapping at least this much may be the same face
SAME_FACE = 0.6  # encodings further apart than this are never the same track (dlib: same person < 0.6)
REIDENTIFY = 0.45  # a face that jumped (no overlap) continues a track when this close
MIN_FACE = 40  # pixels: smaller faces do not count in the decision
MIN_SHARPNESS = 15.0  # variance of the Laplacian of the 80x80 face; below: too blurred to count
BEST_FRAMES = 5  # frames the decision uses
MAX_SIGHTINGS = 300  # sightings a visit keeps (a face standing at the door for hours stays bounded)
VISIT_CROP_SIDE = 128  # pixels: a visit's crop (JPEG) is this square, the face's box its middle two thirds


@dataclass(frozen=True)
class Sighting:
    """One face in one frame: its box ``(left, top, right, bottom)``, encoding and quality; ``landmarks``:
    its ``(68, 2)`` landmarks when the flatness check is on (:mod:`facerec.flatness`), else None."""

    timestamp: float
    box: tuple[int, int, int, int]
    encoding: np.ndarray
    sharpness: float = math.inf
    label: str = ""
    crop: bytes | None = None  # a VISIT_CROP_SIDE px JPEG of the face (face_crop), kept for the visit's record
    landmarks: np.ndarray | None = None

    @property
    def size(self) -> int:
        """The box's smaller side in pixels."""
        return int(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    def usable(self, min_face: int = MIN_FACE, min_sharpness: float = MIN_SHARPNESS) -> bool:
        """Whether the face is large and sharp enough to count in a decision."""
        return self.size >= min_face and self.sharpness >= min_sharpness

    def quality(self) -> float:
        """Ranking of usable frames: sharpness times size (size capped at 160 px: larger adds nothing)."""
        return min(self.sharpness, 1e6) * min(self.size, 160)


@dataclass
class Visit:
    """One track: a face from its first frame until ``timeout`` after it was last seen.

    Memory stays bounded: beyond ``MAX_SIGHTINGS`` the worst sighting (unusable first, then lowest
    quality) is forgotten, never the first or the last 5; ``seen`` counts them all.
    """

    visit: int
    sightings: list[Sighting] = field(default_factory=list)
    seen: int = 0

    def __post_init__(self) -> None:
        self.seen = self.seen or len(self.sightings)

    @property
    def start(self) -> float:
        return self.sightings[0].timestamp

    @property
    def end(self) -> float:
        return self.sightings[-1].timestamp

    def add(self, sighting: Sighting) -> None:
        """Append a sighting (forgetting the worst one past ``MAX_SIGHTINGS``)."""
        self.sightings.append(sighting)
        self.seen += 1
        if len(self.sightings) > MAX_SIGHTINGS:
            middle = range(1, len(self.sightings) - 5)
            worst = min(middle, key=lambda i: (self.sightings[i].usable(), self.sightings[i].quality()))
            del self.sightings[worst]

    def best(self, count: int = BEST_FRAMES, min_face: int = MIN_FACE,
             min_sharpness: float = MIN_SHARPNESS) -> list[Sighting]:
        """The ``count`` best usable sightings; when none is usable, the single best one (never none)."""
        usable = [s for s in self.sightings if s.usable(min_face, min_sharpness)]
        ranked = sorted(usable or self.sightings, key=Sighting.quality, reverse=True)
        return ranked[:count] if usable else ranked[:1]


@dataclass(frozen=True)
class Decision:
    """A visit's verdict: ``identity`` (None: unknown), the median ``distance`` to the closest candidate,
    the ``closest`` candidate, ``frames`` used and ``gated`` (no frame passed the quality gates); with the cohort
    rule (:class:`CohortGate`), the closest candidate's ``cohort_score`` and the rule's ``cohort_limit``."""

    identity: str | None
    distance: float
    closest: str | None
    frames: int
    gated: bool
    cohort_score: float | None = None
    cohort_limit: float | None = None


def iou(a: tuple, b: tuple) -> float:
    """Intersection over union of two ``(left, top, right, bottom)`` boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def sharpness(rgb: np.ndarray, box: tuple) -> float:
    """Variance of the Laplacian of the face, resized to 80x80 grey (higher: sharper)."""
    height, width = rgb.shape[:2]
    left, top = max(0, int(box[0])), max(0, int(box[1]))
    right, bottom = min(width, int(box[2])), min(height, int(box[3]))
    if right - left < 2 or bottom - top < 2:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[top:bottom, left:right]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(cv2.resize(grey, (80, 80), interpolation=cv2.INTER_AREA), cv2.CV_64F).var())


def face_crop(rgb: np.ndarray, box: tuple, side: int = VISIT_CROP_SIDE, quality: int = 85) -> bytes | None:
    """A ``side`` px square JPEG around the face: the box's larger side times 1.5, centred on the box (edges
    padded black); the box fills its middle two thirds. None for an empty box."""
    left, top, right, bottom = (int(v) for v in box)
    half = max(right - left, bottom - top) * 3 // 4
    if half <= 0:
        return None
    cx, cy = (left + right) // 2, (top + bottom) // 2
    padded = cv2.copyMakeBorder(rgb, half, half, half, half, cv2.BORDER_CONSTANT, value=0) if (
        cx - half < 0 or cy - half < 0 or cx + half > rgb.shape[1] or cy + half > rgb.shape[0]) else None
    source, offset = (padded, half) if padded is not None else (rgb, 0)
    square = source[cy - half + offset:cy + half + offset, cx - half + offset:cx + half + offset]
    small = cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes() if ok else None


class Tracker:
    """Joins sightings into visits (see the module docstring).

    Args:
        timeout: seconds of stream time after its last sighting before a visit ends.
        min_iou: box overlap for a sighting to continue a track.
        same_face: encoding distance above which a sighting never continues a track.
        reidentify: encoding distance within which a sighting continues a track without overlap.
    """

    def __init__(self, timeout: float = VISIT_TIMEOUT, min_iou: float = MIN_IOU, same_face: float = SAME_FACE,
                 reidentify: float = REIDENTIFY):
        self.timeout, self.min_iou, self.same_face, self.reidentify = timeout, min_iou, same_face, reidentify
        self.open: list[Visit] = []
        self._ids = itertools.count(1)

    def _cost(self, visit: Visit, sighting: Sighting) -> float | None:
        """How well ``sighting`` continues ``visit`` (lower is better), None when it cannot."""
        recent = np.mean([s.encoding for s in visit.sightings[-5:]], axis=0)
        distance = float(np.linalg.norm(recent - sighting.encoding))
        overlap = iou(visit.sightings[-1].box, sighting.box)
        if distance > self.same_face or (overlap < self.min_iou and distance > self.reidentify):
            return None
        return distance + (1.0 - overlap)

    def expire(self, now: float) -> list[Visit]:
        """End (and return) the visits not seen for more than ``timeout`` before ``now``."""
        ended = [v for v in self.open if now - v.end > self.timeout]
        self.open = [v for v in self.open if now - v.end <= self.timeout]
        return ended

    def update(self, now: float, sightings: list[Sighting]) -> list[Visit]:
        """Add one frame's sightings (possibly none); returns the visits that ended before it."""
        ended = self.expire(now)
        pairs = sorted((cost, t, s) for t, visit in enumerate(self.open) for s, sighting in enumerate(sightings)
                       if (cost := self._cost(visit, sighting)) is not None)
        used_tracks, used_sightings = set(), set()
        for _, t, s in pairs:
            if t not in used_tracks and s not in used_sightings:
                self.open[t].add(sightings[s])
                used_tracks.add(t)
                used_sightings.add(s)
        for s, sighting in enumerate(sightings):
            if s not in used_sightings:
                self.open.append(Visit(next(self._ids), [sighting]))
        return ended

    def flush(self) -> list[Visit]:
        """End every open visit (the stream ended), in the order they started."""
        ended, self.open = sorted(self.open, key=lambda v: v.visit), []
        return ended


DistanceFunction = Callable[[np.ndarray], dict[str, np.ndarray]]
CANDIDATES = 10  # people per frame whose distances a visit's decision compares


def distances_from(search, names: dict[int, str], candidates: int = CANDIDATES) -> DistanceFunction:
    """A :data:`DistanceFunction` over a search (:mod:`facerec.search`) whose ids ``names`` maps to people.

    Each frame is compared with its ``candidates`` closest people; a person not among a frame's
    candidates is at ``inf`` for that frame (the median then counts it as far).
    """
    def distances_to(encodings: np.ndarray) -> dict[str, np.ndarray]:
        distances, ids = search.search(encodings, candidates)
        table: dict[str, np.ndarray] = {}
        for row, (row_d, row_ids) in enumerate(zip(distances, ids)):
            for d, i in zip(row_d, row_ids):
                table.setdefault(names[int(i)], np.full(len(encodings), np.inf))[row] = d
        return table
    return distances_to


GateFunction = Callable[[np.ndarray, str], bool]


class CohortGate:
    """The cohort rule (:mod:`facerec.cohort`) on a visit's frames, a :data:`GateFunction` for :func:`decide`.

    Called with ``(encodings, name)`` it passes when :meth:`score` is at most ``limit`` (the cohort's ``alpha``).
    """

    def __init__(self, search, names: dict[int, str], cohort):
        self.search, self.cohort, self.limit = search, cohort, float(cohort.alpha)
        self.ids = {name: person for person, name in names.items()}

    def score(self, encodings: np.ndarray, name: str) -> float:
        """The median over the frames ``(n, d)`` of the cohort score against ``name``'s template."""
        from facerec.cohort import templates_of

        template = templates_of(self.search.encodings, self.search.person_ids, [self.ids[name]])
        return float(np.median(self.cohort.scores(encodings, np.repeat(template, len(encodings), axis=0))))

    def __call__(self, encodings: np.ndarray, name: str) -> bool:
        return self.score(encodings, name) <= self.limit


def cohort_gate(search, names: dict[int, str], cohort) -> CohortGate | None:
    """The door's cohort rule on a visit's frames (:class:`CohortGate`); ``None`` without a cohort (the threshold
    alone decides)."""
    return None if cohort is None else CohortGate(search, names, cohort)


def decide(visit: Visit, distances_to: DistanceFunction, threshold: float, best: int = BEST_FRAMES,
           min_face: int = MIN_FACE, min_sharpness: float = MIN_SHARPNESS,
           gate: GateFunction | None = None) -> Decision:
    """The visit's identity from its best frames: the median distance of those frames to each candidate.

    Args:
        visit: the visit.
        distances_to: ``(n, 128)`` encodings -> ``{name: (n,) distances}`` (inf where a frame is not near them).
        threshold: the operating point's distance threshold.
        best, min_face, min_sharpness: frames used and the quality gates (see :meth:`Visit.best`).
        gate: ``(frames' encodings, closest name) -> bool``, a second test the closest person must pass too
            (the door's cohort rule, :func:`cohort_gate`); default none.
    """
    frames = visit.best(best, min_face, min_sharpness)
    gated = not any(s.usable(min_face, min_sharpness) for s in visit.sightings)
    encodings = np.stack([s.encoding for s in frames])
    medians = {name: float(np.median(d)) for name, d in distances_to(encodings).items()}
    if not medians:
        return Decision(None, math.inf, None, len(frames), gated)
    closest = min(medians, key=medians.get)
    distance = medians[closest]
    if isinstance(gate, CohortGate):  # its score is reported, as /api/identify reports a face's
        score = gate.score(encodings, closest)
        admitted = distance <= threshold and score <= gate.limit
        return Decision(closest if admitted else None, distance, closest, len(frames), gated, score, gate.limit)
    admitted = distance <= threshold and (gate is None or gate(encodings, closest))
    return Decision(closest if admitted else None, distance, closest, len(frames), gated)


def iso_utc(timestamp: float) -> str:
    """UTC ISO 8601 with milliseconds, e.g. ``2026-12-04T21:30:00.125+00:00``."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")
