"""Where the door's frames come from: one interface, one module per kind of source.

Every source is a :class:`FrameSource`: iterating it yields :class:`Frame` objects
``(timestamp, label, rgb)`` in order, and it ends by itself (a file at its last frame,
a live stream when it stops for longer than its ``give_up`` or reaches ``duration``).
:func:`open_source` picks the kind from the text given on the command line:

* a video file, a folder of images or one image: :mod:`facerec.sources.files`;
* a local camera, ``/dev/videoN`` or its index ``N``: :mod:`facerec.sources.camera`;
* an RTSP or HTTP(S) MJPEG stream URL: :mod:`facerec.sources.stream`;
* an HTTP(S) snapshot URL polled every ``poll`` seconds: :mod:`facerec.sources.snapshot`.

Live sources read on a thread of their own that keeps only the newest frame
(:mod:`facerec.sources.live`), so the door never falls behind; the frames it never
got to are counted in :attr:`SourceStats.dropped`.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from facerec.exceptions import InvalidArgument

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")


@dataclass(frozen=True)
class Frame:
    """One frame: ``timestamp`` (seconds since the epoch, stream time), ``label`` (where it came from), ``rgb``."""

    timestamp: float
    label: str
    rgb: np.ndarray


@dataclass
class SourceStats:
    """What a source did: frames ``read`` from it, ``dropped`` (never handed on: the door was busy or
    over ``max_fps``), ``reconnects`` after the stream dropped."""

    read: int = 0
    dropped: int = 0
    reconnects: int = 0

    def to_json(self) -> dict:
        """``{"read", "dropped", "reconnects"}``."""
        return {"read": self.read, "dropped": self.dropped, "reconnects": self.reconnects}


class FrameSource(ABC):
    """A source of frames; iterate it once. ``name`` is safe to print and log (no credentials)."""

    name: str = ""
    live: bool = False

    def __init__(self) -> None:
        self.stats = SourceStats()

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]:
        """The frames, in order; ends by itself."""

    def close(self) -> None:  # noqa: B027 - optional for sources holding nothing
        """Release what the source holds (threads, devices); safe to call twice."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def safe_name(url: str) -> str:
    """``scheme://host:port/path`` of a URL without its user name, password or query (for logs)."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def source_kind(spec: str | os.PathLike, poll: float | None = None) -> str:
    """``"snapshot"``, ``"stream"``, ``"camera"`` or ``"file"`` for a source given on the command line.

    Raises:
        InvalidArgument: a URL scheme other than rtsp(s)/http(s), or ``poll`` with anything but an http(s) URL.
    """
    text = str(spec)
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme:
        if scheme not in STREAM_SCHEMES:
            raise InvalidArgument(f"cannot read {scheme}:// sources; give rtsp://, http:// or https:// URLs, "
                                  "a camera (/dev/video0 or 0), a video file or a folder")
        if poll is not None and not scheme.startswith("http"):
            raise InvalidArgument("--poll takes an http(s) snapshot URL (an image per request), not an RTSP stream")
        return "snapshot" if poll is not None else "stream"
    if poll is not None:
        raise InvalidArgument("--poll takes an http(s) snapshot URL; drop it for files, folders and cameras")
    if re.fullmatch(r"/dev/video\d{1,3}", text) or (re.fullmatch(r"\d{1,3}", text) and not os.path.exists(text)):
        return "camera"  # a bare number is a camera index unless a file or folder has that name
    return "file"


def open_source(spec: str | os.PathLike, max_fps: float | None = None, poll: float | None = None,
                give_up: float = 30.0, duration: float | None = None) -> FrameSource:
    """The :class:`FrameSource` for ``spec`` (see the module docstring).

    Args:
        spec: a path, a camera (``/dev/video0`` or ``0``) or a URL.
        max_fps: hand on at most this many frames a second (live sources; files are read whole).
        poll: seconds between two requests of a snapshot URL (makes an http(s) URL a snapshot source).
        give_up: a live source ends after this many seconds without a frame (reconnecting meanwhile).
        duration: a live source ends after this many seconds (default: when it gives up).

    Raises:
        InvalidArgument: an unsupported URL scheme, or ``--poll`` with something else than an http(s) URL.
    """
    kind = source_kind(spec, poll)
    live = {"max_fps": max_fps, "give_up": give_up, "duration": duration}
    if kind == "snapshot":
        from facerec.sources.snapshot import SnapshotSource

        return SnapshotSource(str(spec), poll, **live)
    if kind == "stream":
        from facerec.sources.stream import StreamSource

        return StreamSource(str(spec), **live)
    if kind == "camera":
        from facerec.sources.camera import CameraSource

        return CameraSource(str(spec), **live)
    from facerec.sources.files import FileSource

    return FileSource(spec)
