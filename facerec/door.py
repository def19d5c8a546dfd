"""The Happy House door: identify faces frame by frame, decide once per visit, draw who is there.

:func:`run_door` reads any :mod:`facerec.sources` source (a video, a folder of
images, a camera, an RTSP/MJPEG stream or a snapshot URL), finds and identifies
every face of each frame, tracks the faces across frames into visits
(:mod:`facerec.visits`) and decides each visit's identity from its best frames;
each visit is one row of the door log. Given ``out``, it draws boxes and names
with OpenCV and writes an annotated video (``mp4v``) or annotated images.
:func:`run_demo` is the README's demonstration on the Happy House photos.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facerec.align import DEFAULT_DETECTOR, Face, detect_faces, face_from_box, no_face_message
from facerec.api import (
    DatabaseInput,
    FaceResult,
    decision_cohort,
    decision_threshold,
    identify,
    identify_faces_encoded,
    using_database,
)
from facerec.cohort import promise
from facerec.database import DEFAULT_KEEP_LOG_DAYS, DoorEvent
from facerec.exceptions import DatabaseNotWritable, FaceNotFound, ImageNotReadable, InvalidArgument
from facerec.flatness import Flatness, check_flat, landmarks_68
from facerec.image import load_image
from facerec.sources import FrameSource, open_source
from facerec.sources.files import (  # noqa: F401 - re-exported: the door's historical names
    FOLDER_FPS,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    FileSource,
    _still_images,
    count_frames,
    frame_size,
    image_files,
    iter_frames,
    video_fps,
)
from facerec.visits import (
    VISIT_TIMEOUT,
    Decision,
    Sighting,
    Tracker,
    Visit,
    cohort_gate,
    decide,
    distances_from,
    face_crop,
    iso_utc,
    sharpness,
)

KNOWN_BGR = (60, 180, 60)  # green box: a resident within the threshold
UNKNOWN_BGR = (40, 40, 220)  # red box: nobody close enough (or refused)
LIVE_OUT_FPS = 10.0  # frame rate of an annotated video of a live source without --max-fps
LIVE_DETECTOR = "hog"  # a live source's default detector (BENCHMARKS.md, "The door on a live stream")
LIVE_ENCODE_EVERY = 2  # a live source's default: a tracked face is encoded every other frame (same place)


def caption(result: FaceResult) -> str:
    """``"name 0.42"`` or ``"unknown 0.91"``."""
    return f"{result.identity or 'unknown'} {result.distance:.2f}"


def draw_results(bgr: np.ndarray, results: list[FaceResult], scale: float = 1.0,
                 labels: list[str] | None = None, admitted: list[bool] | None = None) -> np.ndarray:
    """Draw each face's box and caption onto a BGR image (in place, also returned).

    Args:
        bgr: BGR uint8 image ``(h, w, 3)``.
        results: faces identified in the image, boxes in pixels of the unscaled image.
        scale: factor from the results' pixel coordinates to ``bgr``'s.
        labels: captions (default :func:`caption`).
        admitted: per face, whether the door lets it in (green) or not (red); default: it has an identity.
    """
    for i, result in enumerate(results):
        left, top, right, bottom = (int(round(v * scale)) for v in result.box)
        color = KNOWN_BGR if (admitted[i] if admitted else result.identity) else UNKNOWN_BGR
        text = labels[i] if labels else caption(result)
        thickness = max(1, round(min(bgr.shape[:2]) / 240))
        cv2.rectangle(bgr, (left, top), (right, bottom), color, thickness)
        font_scale = float(np.clip((right - left) / 160, 0.35, 0.9))
        (width, height), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        y = top - 4 if top - height - base - 4 >= 0 else min(bgr.shape[0] - base, bottom + height + 4)
        cv2.rectangle(bgr, (left, y - height - 2), (left + width + 4, y + base), color, cv2.FILLED)
        cv2.putText(bgr, text, (left + 2, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
    return bgr


def _letterbox(bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit ``bgr`` into ``size = (width, height)`` keeping its aspect ratio (black bars)."""
    width, height = size
    if bgr.shape[1] == width and bgr.shape[0] == height:
        return bgr
    scale = min(width / bgr.shape[1], height / bgr.shape[0])
    resized = cv2.resize(bgr, (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale))))
    canvas = np.zeros((height, width, 3), np.uint8)
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return canvas


class FrameWriter:
    """Writes annotated frames as a video (``out`` ends in a video suffix) or as images in a folder.

    Video frames all get ``size = (width, height)`` (default: the first frame's);
    frames of another size are letterboxed into it.
    """

    def __init__(self, out: str | os.PathLike, fps: float, size: tuple[int, int] | None = None):
        self.out = Path(out)
        self.fps = fps
        self.is_video = self.out.suffix.lower() in VIDEO_SUFFIXES
        self._writer = None
        self._size = size
        self.written = 0
        if self.out.exists() and self.out.is_dir() == self.is_video:
            kind = "a folder" if self.is_video else "a file"
            raise InvalidArgument(f"output {self.out} exists and is {kind}; choose another --out")
        (self.out.parent if self.is_video else self.out).mkdir(parents=True, exist_ok=True)

    def write(self, stem: str, bgr: np.ndarray) -> None:
        """Append one frame; in folder mode it is saved as ``<stem>.jpg``."""
        if not self.is_video:
            if not cv2.imwrite(str(self.out / f"{stem}.jpg"), bgr):
                raise OSError(f"cannot write {self.out / stem}.jpg")
            self.written += 1
            return
        if self._writer is None:
            self._size = self._size or (bgr.shape[1], bgr.shape[0])
            self._writer = cv2.VideoWriter(str(self.out), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self._size)
            if not self._writer.isOpened():
                raise OSError(f"OpenCV cannot write the video {self.out}; try an .mp4 or .avi name")
        self._writer.write(_letterbox(bgr, self._size))
        self.written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


@dataclass
class DoorReport:
    """What :func:`run_door` saw.

    Attributes:
        source: the source read (a URL without its credentials).
        out: where the annotated frames went (None: not written).
        frames: frames handed on by the source; ``processed``: frames searched for faces.
        faces: ``(frame index, result)`` of every face identified, in frame order.
        visits: one :func:`visit_json` object per visit, in the order they ended.
        logged: whether the door log was written (False when the database could not be written).
        dropped, reconnects: frames of a live source the door never got to, and reconnections after drops.
        encoded: faces encoded (fewer than ``faces`` with ``encode_every`` above 1).
    """

    source: str
    out: str | None
    frames: int = 0
    processed: int = 0
    faces: list[tuple[int, FaceResult]] = field(default_factory=list)
    visits: list[dict] = field(default_factory=list)
    logged: bool = True
    dropped: int = 0
    reconnects: int = 0
    encoded: int = 0

    def seen(self) -> Counter:
        """Faces per identity (``None`` for unknown) over all processed frames."""
        return Counter(result.identity for _, result in self.faces)

    def to_json(self) -> dict:
        """JSON-ready summary with one object per face (fields of :meth:`FaceResult.to_json` plus ``frame``)
        and one per visit."""
        return {"source": self.source, "out": self.out, "frames": self.frames, "processed": self.processed,
                "logged": self.logged, "dropped": self.dropped, "reconnects": self.reconnects,
                "faces": [{"frame": index, **result.to_json()} for index, result in self.faces],
                "visits": self.visits}


def visit_json(visit: Visit, decision: Decision, source: str, flatness: Flatness | None = None) -> dict:
    """The JSON line of one visit: ``visit``, ``start``, ``end`` (UTC ISO 8601), ``identity`` (null: unknown),
    ``admitted``, ``distance`` (median over the frames used), ``frames`` (used), ``flat`` (true: a flat face,
    refused whatever its distance; false: a real head; null: cannot tell, or the check is off), ``closest``,
    ``seen`` (frames the face was in), ``gated``, ``source``, with the cohort rule ``cohort_score`` and
    ``cohort_limit`` (the closest person's, as ``/api/identify`` gives them), and with the check on ``flatness`` (its
    :meth:`Flatness.to_json`: statistic, motion, reason); ``refused`` says why a recognised face was refused."""
    distance = round(decision.distance, 6) if np.isfinite(decision.distance) else None
    flat = None if flatness is None else flatness.flat
    line = {"visit": visit.visit, "start": iso_utc(visit.start), "end": iso_utc(visit.end),
            "identity": decision.identity, "admitted": decision.identity is not None and flat is not True,
            "distance": distance, "frames": decision.frames, "flat": flat, "closest": decision.closest,
            "seen": visit.seen, "gated": decision.gated, "source": source}
    if decision.cohort_score is not None:  # the default decision's cohort rule, as /api/identify reports it
        line["cohort_score"] = round(decision.cohort_score, 6)
        line["cohort_limit"] = decision.cohort_limit
    # --- flatness check (issue 24, item 3) ---
    if flatness is not None:
        line["flatness"] = flatness.to_json()
        if decision.identity is not None and flat is True:
            line["refused"] = f"flat face: {flatness.reason}"
    return line


class _Visits:
    """The door's visits: tracks sightings, decides each ended visit, logs it and hands it on.

    Each visit's line gets the promise it was decided under, as ``/api/identify`` gives it for a face:
    ``threshold`` (the L2 distance), ``operating_point`` (from ``threshold``, a
    :class:`facerec.operating_points.Threshold`) and ``promise`` (with the cohort rule, the stranger rate measured
    for it: :func:`facerec.cohort.promise`; else None). ``fingerprint``: the encoder's weights (stored with each
    visit's face). ``flat_check``: find whether each visit's face is flat (:mod:`facerec.flatness`).
    """

    def __init__(self, database, threshold, report: DoorReport, log: bool, keep_log_days: float | None,
                 timeout: float, on_visit, cohort=None, fingerprint: str | None = None, told: dict | None = None,
                 flat_check: bool = False):
        self.database, self.threshold, self.report = database, threshold.value, report
        self.fingerprint = fingerprint
        self.promise = {"threshold": round(float(threshold.value), 6), "operating_point": threshold.describe(),
                        "promise": told}
        self.log, self.keep_log_days, self.on_visit = log, keep_log_days, on_visit
        self.flat_check = flat_check
        self.tracker = Tracker(timeout)
        self.cohort = cohort  # the card's cohort rule (None: off); the known strangers join it in _refresh
        self._search, self._strangers = None, None
        self._refresh()

    def _refresh(self) -> None:
        """Decide with the gallery and the known strangers as they are now: people enrolled or removed, visits
        reviewed as "not anyone we know", since the door started (at this door or another)."""
        search = self.database.searcher("exact")
        strangers = None if self.cohort is None else self.database.known_strangers()
        seen = None if strangers is None else hash(strangers.tobytes())
        if search is not self._search or seen != self._strangers:
            names = self.database.names_by_id()
            self._search, self._strangers = search, seen
            self.distances_to = distances_from(search, names)
            cohort = None if self.cohort is None else self.cohort.with_extra(strangers)
            self.gate = cohort_gate(search, names, cohort)  # the default decision's cohort rule

    def frame(self, timestamp: float, sightings: list[Sighting]) -> None:
        self._end(self.tracker.update(timestamp, sightings))

    def finish(self) -> None:
        self._end(self.tracker.flush())

    def _end(self, visits: list[Visit]) -> None:
        if visits:
            self._refresh()
        for visit in visits:
            decision = decide(visit, self.distances_to, self.threshold, gate=self.gate)
            flatness = check_flat([s.landmarks for s in visit.sightings if s.landmarks is not None]) \
                if self.flat_check else None
            line = visit_json(visit, decision, self.report.source, flatness)
            line.update(self.promise)
            if self.log and self.report.logged:
                label = visit.sightings[0].label  # where the visit began: a file name, or a stream's frame
                event = DoorEvent(line["start"], decision.identity, decision.distance, line["admitted"], label)
                self._store(visit, line, event)
            self.report.visits.append(line)
            if self.on_visit is not None:
                self.on_visit(line)

    def _store(self, visit: Visit, line: dict, event: DoorEvent) -> None:
        """Log the visit: its door-log row, its decision and best crop; ``line["visit"]`` becomes the stored id."""
        from facerec.stores.sqlite_visits import VisitRecord

        best = visit.best(1)[0]
        blob = np.asarray(best.encoding, "<f4").reshape(-1).tobytes()  # little-endian float32, as faces are
        record = VisitRecord(line, best.crop, blob, self.fingerprint)
        try:
            if not getattr(self.database, "stores_visits", False):  # an engine without visits: the log row only
                self.database.log_events([event], self.keep_log_days)
                return
            line["visit"] = self.database.log_events([event], self.keep_log_days, visit=record)
        except DatabaseNotWritable as error:
            print(f"facerec: warning: the door keeps identifying, but its log is not being written: {error}",
                    file=sys.stderr)
            self.report.logged = False


def door_visits(database, encoder, report: DoorReport, log: bool = True,
                keep_log_days: float | None = DEFAULT_KEEP_LOG_DAYS, timeout: float = VISIT_TIMEOUT, on_visit=None,
                flat_check: bool = False, threshold: float | None = None, operating_point: str | None = None,
                far: float | None = None, false_alarm: float | None = None) -> _Visits:
    """The door's visits over ``database`` (open) with ``encoder``: sightings go in (``frame(timestamp,
    sightings)``, then ``finish()``); each ended visit is decided, logged and appended to ``report.visits``.

    ``threshold``, ``operating_point``, ``far``, ``false_alarm``: the decision, as :func:`run_door` takes them (at
    most one; default the encoder card's ``false-alarm-1e-2`` with its cohort rule and promise). Raises
    :class:`facerec.exceptions.EmptyDatabase` when nobody is enrolled.
    """
    database.searcher("exact")  # EmptyDatabase ("enroll people first") before any other work
    decision = decision_threshold(encoder, database.count_faces(), threshold, operating_point, far, false_alarm)
    cohort = decision_cohort(encoder, threshold, operating_point, far, false_alarm)  # + known strangers: _Visits
    told = None if cohort is None else promise(encoder.card(), len(database.names()))
    return _Visits(database, decision, report, log, keep_log_days, timeout, on_visit, cohort, encoder.fingerprint,
                   told, flat_check)


def _writer(out, frames: FrameSource, fps: float | None, max_fps: float | None) -> FrameWriter | None:
    """The annotated-frame writer (None without ``out``)."""
    if out is None:
        return None
    if isinstance(frames, FileSource):
        return FrameWriter(out, fps or frames.fps, frame_size(frames.path))
    return FrameWriter(out, fps or max_fps or LIVE_OUT_FPS)


def _stem(frames: FrameSource, label: str, index: int) -> str:
    if isinstance(frames, FileSource):
        return Path(label).stem if frames.stills else f"{frames.path.stem}_{index:06d}"
    return f"frame_{index:06d}"


def run_door(source: str | os.PathLike | FrameSource, db: DatabaseInput, out: str | os.PathLike | None = None,
             threshold: float | None = None, every: int = 1, k: int = 1, fps: float | None = None, encoder=None,
             progress: bool = True, detector: str | None = None, operating_point: str | None = None,
             far: float | None = None, false_alarm: float | None = None, log: bool = True,
             keep_log_days: float | None = DEFAULT_KEEP_LOG_DAYS, max_fps: float | None = None,
             poll: float | None = None, give_up: float = 30.0, duration: float | None = None,
             visit_timeout: float | None = None, on_visit=None, detect_scale: float = 1.0,
             encode_every: int | None = None, flat_check: bool = False) -> DoorReport:
    """Identify the faces of every frame, decide once per visit, log the visits, write annotated frames.

    Args:
        source: a video file, a folder of images (sorted by name), one image, a camera (``/dev/video0``
            or ``0``), an RTSP or HTTP(S) MJPEG URL, or (with ``poll``) a snapshot URL; see
            :func:`facerec.sources.open_source`. Or a source already opened (closing it from another
            thread ends the door, as :mod:`facerec.server.camera` does).
        db: face database or its path.
        out: a video file (``.mp4`` etc., written with the ``mp4v`` codec) or a folder for annotated JPEGs;
            None writes no frames.
        threshold, operating_point, far, false_alarm: the decision threshold, at most one (default: the
            encoder card's ``false-alarm-1e-2``; see :mod:`facerec.operating_points`).
        every: search every n-th frame only (the boxes of the last search are drawn on the others).
        k: candidates kept per face.
        fps: frame rate of the output video (default: the source's, 2 for a folder, ``max_fps`` or 10 live).
        encoder: an encoder object (default: the database's own).
        progress: show a progress bar on stderr.
        detector: ``"hog"``, ``"cnn"`` or ``"auto"``; default :data:`LIVE_DETECTOR` for a live source (``auto``
            runs dlib's CNN, about 2 s, on every frame without a face, and holds the GIL meanwhile: the stream's
            reader starves), ``auto`` for files. A frame without a face is nobody; a single photo without a face
            raises :class:`FaceNotFound`, as :func:`identify` does.
        log: write each visit to the database's door log (one row per visit). When the database cannot
            be written the door goes on, says so once on stderr and sets ``report.logged`` to False.
        keep_log_days: door-log rows older than this many days are deleted as the log is written.
        max_fps, poll, give_up, duration: for live sources (see :func:`facerec.sources.open_source`).
        visit_timeout: seconds of stream time after a face leaves before its visit ends (default 2).
        on_visit: called with each visit's JSON object as soon as the visit ends.
        detect_scale: detect faces on the frame resized by this factor (0.25 to 1; default 1: full size), then
            find landmarks and encode on the full frame. 0.5 makes HOG 3-4 times faster on 640x480 frames, but
            faces under about 170 px are then missed (HOG's window is 80 px); see BENCHMARKS.md.
        encode_every: a face that continues one of the previous searched frame (box overlap) is encoded only every
            this many frames; in between it keeps its identity and adds no frame to its visit (default
            :data:`LIVE_ENCODE_EVERY` for a live source, where the encoder is the door's largest cost, 1 for files:
            BENCHMARKS.md, "The door on a live stream").
        flat_check: find each face's 68 landmarks and refuse a visit whose face moves as one plane (a photo or
            a screen; :mod:`facerec.flatness`). Off by default: the 68-point model's training data restricts
            commercial use (MODEL_CARD.md, "Licences"), and without the check a photo can open the door.

    Returns:
        A :class:`DoorReport`.
    """
    if every < 1:
        raise InvalidArgument(f"--every must be at least 1, got {every}")
    if encode_every is not None and (not isinstance(encode_every, int) or encode_every < 1):
        raise InvalidArgument(f"--encode-every must be an integer of at least 1, got {encode_every}")
    if not 0.25 <= detect_scale <= 1:
        raise InvalidArgument(f"--detect-scale must be from 0.25 to 1, got {detect_scale}")
    visit_timeout = VISIT_TIMEOUT if visit_timeout is None else visit_timeout
    if not visit_timeout >= 0:
        raise InvalidArgument(f"--visit-timeout must be 0 seconds or more, got {visit_timeout}")
    frames = source if isinstance(source, FrameSource) else open_source(source, max_fps, poll, give_up, duration)
    report = DoorReport(frames.name, None if out is None else str(out), logged=log)
    detector = detector or (LIVE_DETECTOR if frames.live else DEFAULT_DETECTOR)
    encode_every = encode_every or (LIVE_ENCODE_EVERY if frames.live else 1)
    writer = _writer(out, frames, fps, max_fps)
    try:
        with using_database(db) as database:
            from facerec.api import _encoder

            encoder = _encoder(encoder, database)
            visits = door_visits(database, encoder, report, log, keep_log_days, visit_timeout, on_visit, flat_check,
                                 threshold=threshold, operating_point=operating_point, far=far, false_alarm=false_alarm)
            options = {"k": k, "threshold": threshold, "encoder": encoder, "operating_point": operating_point,
                       "far": far, "false_alarm": false_alarm, "detector": detector, "detect_scale": detect_scale,
                       "encode_every": encode_every, "flat_check": flat_check}
            try:  # the visits seen before an interruption are kept
                _read_frames(frames, database, report, visits, writer, every, progress, options)
            finally:
                visits.finish()
    finally:
        frames.close()
        report.dropped, report.reconnects = frames.stats.dropped, frames.stats.reconnects
        if writer is not None:
            writer.close()
    return report


def _read_frames(frames: FrameSource, database, report: DoorReport, visits: _Visits, writer: FrameWriter | None,
                 every: int, progress: bool, options: dict) -> None:
    """The door's loop over the frames (see :func:`run_door`)."""
    from tqdm import tqdm

    single_image = isinstance(frames, FileSource) and frames.stills and frames.path.is_file()
    total = count_frames(frames.path) if isinstance(frames, FileSource) else None
    detector, scale = options.pop("detector"), options.pop("detect_scale")
    reuse = _Reuse(options.pop("encode_every"))
    flat_check = options.pop("flat_check")
    results: list[FaceResult] = []
    for index, frame in enumerate(tqdm(frames, total=total, desc="door", unit="frame", disable=not progress)):
        if index % every == 0:
            faces = detect_scaled(frame.rgb, detector, scale)
            if single_image and not faces:  # one photo: as identify would say (a video frame: nobody)
                raise FaceNotFound(no_face_message(frames.path))
            fresh, kept = reuse.split(faces)
            results, encodings = identify_faces_encoded(frame.rgb, fresh, database, label=frame.label, **options)
            visits.frame(frame.timestamp, [Sighting(frame.timestamp, r.box, e, sharpness(frame.rgb, r.box),
                                                    frame.label, face_crop(frame.rgb, r.box),
                                                    landmarks_68(frame.rgb, r.box) if flat_check else None)
                                           for r, e in zip(results, encodings)])
            results = reuse.update(results, kept)
            report.processed += 1
            report.encoded += len(fresh)
            report.faces.extend((index, result) for result in results)
        if writer is not None:
            writer.write(_stem(frames, frame.label, index),
                         draw_results(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), results))
        report.frames += 1


REUSE_IOU = 0.5  # a face overlapping a face of the previous searched frame this much is the same face


class _Reuse:
    """Encode a face that continues one of the previous searched frame (box overlap) only every ``every``-th frame.

    In between, the face keeps the previous frame's identity (drawn, listed in ``report.faces``) and adds no
    sighting to its visit: the visit's decision uses only frames that were encoded. ``every`` 1 encodes every face
    of every frame. A new face, or one that jumped, is encoded at once.
    """

    def __init__(self, every: int = 1):
        self.every = every
        self.last: list[tuple[FaceResult, int]] = []  # (result, frames since it was encoded)

    def split(self, faces: list[Face]) -> tuple[list[Face], list[tuple[FaceResult, int]]]:
        """``(faces to encode, [(kept result moved to its new box, age), ...])``."""
        if self.every <= 1 or not self.last:
            return faces, []
        from dataclasses import replace

        from facerec.visits import iou

        fresh, kept, taken = [], [], set()
        for face in faces:
            overlaps = [(iou(result.box, face.box), i) for i, (result, _) in enumerate(self.last) if i not in taken]
            overlap, best = max(overlaps, default=(0.0, -1))
            if overlap >= REUSE_IOU and self.last[best][1] + 1 < self.every:
                taken.add(best)
                kept.append((replace(self.last[best][0], box=face.box), self.last[best][1] + 1))
            else:
                fresh.append(face)
        return fresh, kept

    def update(self, encoded: list[FaceResult], kept: list[tuple[FaceResult, int]]) -> list[FaceResult]:
        """Remember this frame's faces; returns all of them (encoded ones first)."""
        self.last = [(result, 0) for result in encoded] + kept
        return [result for result, _ in self.last]


def detect_scaled(rgb: np.ndarray, detector: str, scale: float = 1.0) -> list[Face]:
    """:func:`facerec.detect_faces` on ``rgb`` resized by ``scale`` (no upsampling), boxes and landmarks on the
    full frame; ``scale`` 1 is :func:`facerec.detect_faces` itself."""
    if scale >= 1:
        return detect_faces(rgb, detector=detector)
    small = cv2.resize(rgb, (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    return [face_from_box(rgb, tuple(v / scale for v in face.box), face.score)
            for face in detect_faces(small, upsample=0, detector=detector)]


@dataclass(frozen=True)
class DemoRow:
    """One door photo of the demo: the closest resident, the distance and the verdict."""

    image: str
    closest: str
    distance: float
    verdict: str
    result: FaceResult


def _verdict(result: FaceResult, banned: set[str]) -> str:
    if result.identity is None:
        return "refused: unknown"
    if result.identity in banned:
        return f"refused: {result.identity} is banned"
    return f"welcome in, {result.identity}"


def run_demo(images_dir: str | os.PathLike, db_path: str | os.PathLike, sheet_path: str | os.PathLike,
             threshold: float | None = None, banned: tuple[str, ...] = (), encoder=None,
             progress: bool = True, detector: str = DEFAULT_DETECTOR, operating_point: str | None = None,
             far: float | None = None, false_alarm: float | None = None) -> list[DemoRow]:
    """Enroll the Happy House residents and send the camera shots through the door.

    Every image of ``images_dir`` not named ``camera_*`` is a resident (named by
    its file stem) and is enrolled into a fresh database at ``db_path``; each
    ``camera_*`` image is then identified, and an annotated contact sheet of
    the camera shots is saved to ``sheet_path`` (PNG).

    Args:
        banned: residents refused even when recognised (default none).
        encoder: an encoder object (default: :data:`facerec.encoders.DEFAULT_ENCODER`'s); the
            fresh database is made with it.
        threshold, operating_point, far, false_alarm, detector: as for :func:`run_door`.

    Returns:
        One :class:`DemoRow` per face of the camera shots, in file-name order.
    """
    from tqdm import tqdm

    from facerec.database import FaceDatabase

    files = image_files(images_dir)
    residents = [p for p in files if not p.stem.startswith("camera_")]
    cameras = [p for p in files if p.stem.startswith("camera_")]
    if not residents or not cameras:
        raise ImageNotReadable(f"{images_dir} must hold resident photos and camera_*.jpg shots; run `facerec setup`")
    remove_database(db_path, allowed={path.stem for path in residents})
    rows = []
    if encoder is None:
        from facerec.encoders import load_encoder

        encoder = load_encoder()
    with FaceDatabase(db_path, encoder=encoder.name) as db:
        for path in tqdm(residents, desc="enrolling residents", unit="person", disable=not progress):
            db.enroll(path.stem, [path], encoder=encoder, skip_bad=False, detector=detector)
        for path in cameras:
            for result in identify(path, db, k=3, threshold=threshold, encoder=encoder, operating_point=operating_point,
                                   far=far, false_alarm=false_alarm, detector=detector):
                rows.append(DemoRow(path.name, result.closest, result.distance, _verdict(result, set(banned)), result))
    save_contact_sheet(rows, cameras, sheet_path)
    return rows


def remove_database(path: str | os.PathLike, allowed: set[str] | None = None) -> None:
    """Delete a facerec database and its WAL files; refuse to delete anything else.

    Args:
        path: the database file.
        allowed: if given, refuse unless every enrolled name is in this set (protects real databases).

    Raises:
        DatabaseError: the file is not a facerec database.
        InvalidArgument: it holds people outside ``allowed``.
    """
    from facerec.database import FaceDatabase

    path = Path(path)
    if path.exists():
        with FaceDatabase(path, create=False) as db:  # DatabaseError for a file that is not a facerec database
            others = sorted(set(db.names()) - allowed) if allowed is not None else []
        if others:
            raise InvalidArgument(f"{path} holds other people ({', '.join(others[:5])}...); the demo recreates "
                                  "its database, so give it another --db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def save_contact_sheet(rows: list[DemoRow], cameras: list[Path], path: str | os.PathLike, tile: int = 288,
                       columns: int = 3) -> None:
    """Save the camera shots in a grid, each face boxed and captioned with its verdict (PNG)."""
    banner = 56
    tiles = []
    for camera in cameras:
        rgb = load_image(camera)
        scale = tile / max(rgb.shape[:2])
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        bgr = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), size, interpolation=cv2.INTER_CUBIC)
        mine = [row for row in rows if row.image == camera.name]
        results = [row.result for row in mine]
        draw_results(bgr, results, scale, labels=[f"{r.closest} {r.distance:.2f}" for r in mine],
                     admitted=[r.verdict.startswith("welcome") for r in mine])
        cell = np.full((tile + banner, tile, 3), 255, np.uint8)
        cell[:bgr.shape[0], :bgr.shape[1]] = bgr
        lines = [camera.name] + [row.verdict for row in mine] if mine else [camera.name, "no face"]
        for i, text in enumerate(lines[:3]):
            color = (0, 0, 0) if i == 0 else (KNOWN_BGR if text.startswith("welcome") else UNKNOWN_BGR)
            cv2.putText(cell, text, (6, tile + 18 + 17 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
        tiles.append(cell)
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    sheet = np.vstack([np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f"cannot write the contact sheet {path}")
