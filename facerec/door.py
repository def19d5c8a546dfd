"""The Happy House door: identify faces frame by frame and draw who is there.

:func:`run_door` reads a video (any format OpenCV decodes) or a folder of
images, finds and identifies every face of each frame, draws boxes and names
with OpenCV and writes an annotated video (``mp4v``) or annotated images.
:func:`run_demo` is the README's demonstration on the Happy House photos.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facerec.align import DEFAULT_DETECTOR, detect_faces, no_face_message
from facerec.api import DatabaseInput, FaceResult, identify, identify_faces, using_database
from facerec.database import DEFAULT_KEEP_LOG_DAYS, DoorEvent, now_utc
from facerec.exceptions import DatabaseNotWritable, FaceNotFound, ImageNotReadable, InvalidArgument
from facerec.image import load_image

VIDEO_SUFFIXES = {".mp4", ".m4v", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
KNOWN_BGR = (60, 180, 60)  # green box: a resident within the threshold
UNKNOWN_BGR = (40, 40, 220)  # red box: nobody close enough (or refused)
FOLDER_FPS = 2.0  # frame rate of a video made from a folder of images


def image_files(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (by suffix), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _still_images(source: Path) -> list[Path] | None:
    """The images a folder or a single image file stands for (None for anything else, e.g. a video)."""
    if source.is_dir():
        return image_files(source)
    if source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES:
        return [source]
    return None


def iter_frames(source: str | os.PathLike) -> Iterator[tuple[str, np.ndarray]]:
    """``(label, rgb)`` of every frame of a video, image of a folder, or of a single image file, in order.

    Labels are the image paths for images, ``"<video>#<frame index>"`` for a video.

    Raises:
        ImageNotReadable: the source is missing, an empty folder, or a video OpenCV cannot open.
    """
    source = Path(source)
    files = _still_images(source)
    if files is not None:
        if not files:
            raise ImageNotReadable(f"folder {source} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        for path in files:
            yield str(path), load_image(path)
        return
    if not source.is_file():
        raise ImageNotReadable(f"{source} does not exist; give a video file or a folder of images")
    capture = cv2.VideoCapture(str(source))
    try:
        ok, frame = capture.read()
        if not ok:
            raise ImageNotReadable(f"cannot decode {source} as a video; is it a video file OpenCV can read?")
        index = 0
        while ok:
            yield f"{source}#{index}", cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            ok, frame = capture.read()
            index += 1
    finally:
        capture.release()


def count_frames(source: str | os.PathLike) -> int | None:
    """Number of frames (from the container's header for videos; may be None)."""
    files = _still_images(Path(source))
    if files is not None:
        return len(files)
    capture = cv2.VideoCapture(str(source))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return count if count > 0 else None


def frame_size(source: str | os.PathLike) -> tuple[int, int] | None:
    """``(width, height)`` fitting every image of a folder or the one image (None for a video: one size)."""
    files = _still_images(Path(source))
    if files is None:
        return None
    from PIL import Image

    sizes = []
    for path in files:
        try:
            with Image.open(path) as image:
                sizes.append(image.size)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            continue  # reported when the frame itself is read
    return (max(w for w, _ in sizes), max(h for _, h in sizes)) if sizes else None


def video_fps(source: str | os.PathLike) -> float:
    """Frame rate of a video (FOLDER_FPS for images or when the header has none)."""
    if _still_images(Path(source)) is not None:
        return FOLDER_FPS
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return float(fps) if fps and np.isfinite(fps) and fps > 0 else FOLDER_FPS


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
        source: the video or folder read.
        out: where the annotated frames went.
        frames: frames read; ``processed``: frames searched for faces.
        faces: ``(frame index, result)`` of every face identified, in frame order.
        logged: whether the door log was written (False when the database could not be written).
    """

    source: str
    out: str
    frames: int = 0
    processed: int = 0
    faces: list[tuple[int, FaceResult]] = field(default_factory=list)
    logged: bool = True

    def seen(self) -> Counter:
        """Faces per identity (``None`` for unknown) over all processed frames."""
        return Counter(result.identity for _, result in self.faces)

    def to_json(self) -> dict:
        """JSON-ready summary with one object per face (fields of :meth:`FaceResult.to_json` plus ``frame``)."""
        return {"source": self.source, "out": self.out, "frames": self.frames, "processed": self.processed,
                "logged": self.logged, "faces": [{"frame": index, **result.to_json()} for index, result in self.faces]}


LOG_BATCH = 100  # door events written per transaction


def run_door(source: str | os.PathLike, db: DatabaseInput, out: str | os.PathLike, threshold: float | None = None,
             every: int = 1, k: int = 1, fps: float | None = None, encoder=None, progress: bool = True,
             detector: str = DEFAULT_DETECTOR, operating_point: str | None = None, far: float | None = None,
             false_alarm: float | None = None, log: bool = True,
             keep_log_days: float | None = DEFAULT_KEEP_LOG_DAYS) -> DoorReport:
    """Identify the faces of every frame and write the annotated frames.

    Args:
        source: a video file, a folder of images (sorted by name), or one image.
        db: face database or its path.
        out: a video file (``.mp4`` etc., written with the ``mp4v`` codec) or a folder for annotated JPEGs.
        threshold, operating_point, far, false_alarm: the decision threshold, at most one (default: the
            encoder card's ``false-alarm-1e-2``: a stranger is let in at most 1 % of the time, whatever
            the number of people enrolled; see :mod:`facerec.operating_points`).
        every: search every n-th frame only (the boxes of the last search are drawn on the others).
        k: candidates kept per face.
        fps: frame rate of the output video (default: the source's, or 2 for a folder).
        encoder: an encoder object (default: the database's own).
        progress: show a progress bar on stderr.
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default). A video frame without a face is
            nobody (written unannotated; with ``auto`` it costs a CNN pass, so use ``hog`` for long
            videos); a single photo without a face raises :class:`FaceNotFound`, as :func:`identify` does.
        log: write each searched face to the database's door log (default True; ``facerec log`` lists it).
            When the database cannot be written (read-only, disk full) the door keeps identifying, says
            once on stderr that its log is not being written, and sets ``report.logged`` to False.
        keep_log_days: door-log rows older than this many days are deleted as the log is written
            (default 30; None keeps them all).

    Returns:
        A :class:`DoorReport`.
    """
    from tqdm import tqdm

    if every < 1:
        raise InvalidArgument(f"--every must be at least 1, got {every}")
    if not Path(source).exists():
        raise ImageNotReadable(f"{source} does not exist; give a video file, a folder of images or an image")
    report = DoorReport(str(source), str(out), logged=log)
    stills = _still_images(Path(source)) is not None  # frames named after their image files
    single_image = stills and Path(source).is_file()
    writer = FrameWriter(out, fps or video_fps(source), frame_size(source))
    results: list[FaceResult] = []
    pending: list[DoorEvent] = []
    try:
        with using_database(db) as database:
            try:  # the events seen before an interruption are kept
                frames = iter_frames(source)
                for index, (label, rgb) in enumerate(tqdm(frames, total=count_frames(source), desc="door", unit="frame",
                                                          disable=not progress)):
                    if index % every == 0:
                        faces = detect_faces(rgb, detector=detector)
                        if single_image and not faces:  # one photo: as identify would say (a video frame: nobody)
                            raise FaceNotFound(no_face_message(source))
                        results = identify_faces(rgb, faces, database, k, threshold, encoder, label=label,
                                                 operating_point=operating_point, far=far, false_alarm=false_alarm)
                        if log:  # written in batches: one transaction per frame would fsync on every frame
                            now = now_utc()
                            pending += [DoorEvent(now, r.identity, r.distance, r.identity is not None, label)
                                        for r in results]
                            if len(pending) >= LOG_BATCH:
                                report.logged = _write_log(database, pending, keep_log_days, report.logged)
                                pending = []
                        report.processed += 1
                        report.faces.extend((index, result) for result in results)
                    stem = Path(label).stem if stills else f"{Path(source).stem}_{index:06d}"
                    writer.write(stem, draw_results(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), results))
                    report.frames += 1
            finally:
                if log:
                    report.logged = _write_log(database, pending, keep_log_days, report.logged)
    finally:
        writer.close()
    return report


def _write_log(database, events: list[DoorEvent], keep_days: float | None, logging: bool) -> bool:
    """Write door events unless the log already failed; on a read-only or full disk say so once, go on.

    Returns:
        whether the log is still being written.
    """
    if not logging or not events:
        return logging
    try:
        database.log_events(events, keep_days)
        return True
    except DatabaseNotWritable as error:
        print(f"facerec: warning: the door keeps identifying, but its log is not being written: {error}",
              file=sys.stderr)
        return False


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
