"""Frames of a video file, of a folder of images (sorted by name) or of one image."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from facerec.exceptions import ImageNotReadable
from facerec.image import load_image
from facerec.sources import Frame, FrameSource

VIDEO_SUFFIXES = {".mp4", ".m4v", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
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


class FileSource(FrameSource):
    """Every frame of a video file, folder of images or one image; timestamps are stream time from ``start``.

    Args:
        path: the video, folder or image.
        start: the epoch time of the first frame (default: now).
    """

    def __init__(self, path: str | os.PathLike, start: float | None = None):
        super().__init__()
        self.path = Path(path)
        self.name = str(path)
        self.start = time.time() if start is None else start
        if not self.path.exists():
            raise ImageNotReadable(f"{path} does not exist; give a video file, a folder of images or an image")
        self.stills = _still_images(self.path) is not None
        self.fps = video_fps(self.path)

    def __iter__(self) -> Iterator[Frame]:
        for index, (label, rgb) in enumerate(iter_frames(self.path)):
            self.stats.read += 1
            yield Frame(self.start + index / self.fps, label, rgb)
