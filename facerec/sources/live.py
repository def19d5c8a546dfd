"""The machinery shared by live sources: a reader thread that keeps only the newest frame.

A :class:`LiveSource` subclass says how to open its stream, read one frame and close
it; this class runs that on a daemon thread, reconnects with exponential back-off when
the stream drops (or cannot be opened), and hands the newest frame to whoever iterates
it, at most ``max_fps`` a second. Frames overwritten before they were handed on are
counted as dropped: a slow door skips frames, it never falls behind a live stream.
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Iterator

import numpy as np

from facerec.exceptions import InvalidArgument
from facerec.sources import Frame, FrameSource

BACKOFF_START = 0.25  # seconds before the first reconnection attempt
BACKOFF_MAX = 8.0  # the back-off doubles up to this


class LiveSource(FrameSource):
    """A live stream read on its own thread (see the module docstring).

    Args:
        max_fps: hand on at most this many frames a second (None: as fast as the door goes).
        give_up: end after this many seconds without a frame (reconnecting meanwhile).
        duration: end after this many seconds (None: only when giving up).
        backoff: ``(first, largest)`` wait in seconds between reconnection attempts.
    """

    live = True

    def __init__(self, max_fps: float | None = None, give_up: float = 30.0, duration: float | None = None,
                 backoff: tuple[float, float] = (BACKOFF_START, BACKOFF_MAX)):
        super().__init__()
        if max_fps is not None and not max_fps > 0:
            raise InvalidArgument(f"--max-fps must be above 0, got {max_fps}")
        if not give_up > 0 or (duration is not None and not duration > 0):
            raise InvalidArgument("--give-up and --duration must be above 0 seconds")
        self.max_fps, self.give_up, self.duration, self.backoff = max_fps, give_up, duration, backoff
        self._condition = threading.Condition()
        self._newest: Frame | None = None
        self._published = 0
        self._ended = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _open(self):
        """A handle on the stream, or None when it cannot be opened now."""

    @abstractmethod
    def _read(self, handle) -> np.ndarray | None:
        """The next RGB frame, or None when the stream dropped."""

    def _release(self, handle) -> None:  # noqa: B027 - optional
        """Close a handle from :meth:`_open`."""

    def _publish(self, rgb: np.ndarray) -> None:
        with self._condition:
            self.stats.read += 1
            self._published += 1
            self._newest = Frame(time.time(), f"{self.name}#{self.stats.read - 1}", rgb)
            self._condition.notify_all()

    def _should_end(self, started: float, last_frame: float) -> bool:
        now = time.monotonic()
        over = self.duration is not None and now - started >= self.duration
        return self._stop.is_set() or over or now - last_frame >= self.give_up

    def _run(self) -> None:
        started = last_frame = time.monotonic()
        delay, dropped_before = self.backoff[0], False
        try:
            while not self._should_end(started, last_frame):
                handle = self._open()
                frames = 0
                try:
                    while handle is not None and not self._should_end(started, last_frame):
                        rgb = self._read(handle)
                        if rgb is None:
                            break
                        self.stats.reconnects += dropped_before and frames == 0
                        frames, last_frame = frames + 1, time.monotonic()
                        self._publish(rgb)
                finally:
                    if handle is not None:
                        self._release(handle)
                dropped_before = dropped_before or frames > 0
                delay = self.backoff[0] if frames else min(delay * 2, self.backoff[1])
                self._stop.wait(delay)
        finally:
            with self._condition:
                self._ended = True
                self._condition.notify_all()

    def _next(self, taken: int) -> tuple[Frame | None, int]:
        """The newest frame after the ``taken``-th (waiting for it), and its number; None at the end."""
        with self._condition:
            while self._published == taken and not self._ended:
                self._condition.wait(0.1)
            if self._published == taken:
                return None, taken
            self.stats.dropped += self._published - taken - 1
            return self._newest, self._published

    def __iter__(self) -> Iterator[Frame]:
        if self._thread is not None:
            raise InvalidArgument("a live source is read once; open it again")
        self._thread = threading.Thread(target=self._run, name=f"facerec-source {self.name}", daemon=True)
        self._thread.start()
        taken, next_time = 0, 0.0
        try:
            while True:
                if self.max_fps:
                    time.sleep(max(0.0, next_time - time.monotonic()))
                frame, taken = self._next(taken)
                if frame is None:
                    return
                next_time = time.monotonic() + 1.0 / self.max_fps if self.max_fps else 0.0
                yield frame
        finally:
            self.close()

    def close(self) -> None:
        """Stop the reader thread (it ends within one read timeout)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)


class CaptureSource(LiveSource):
    """A :class:`LiveSource` read through an OpenCV ``VideoCapture`` (a camera, a stream)."""

    @abstractmethod
    def _capture(self):
        """A new ``cv2.VideoCapture`` on the source (maybe not opened)."""

    def _open(self):
        capture = self._capture()
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def _read(self, handle) -> np.ndarray | None:
        import cv2

        ok, bgr = handle.read()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok and bgr is not None else None

    def _release(self, handle) -> None:
        handle.release()
