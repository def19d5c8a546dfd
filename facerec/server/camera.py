"""``facerec serve --camera SOURCE``: the door loop on a camera or stream, in the background of the server.

A :class:`CameraDoor` runs :func:`facerec.door.run_door` on its own thread with its own connection to the
database (WAL: the server's requests and the door write side by side) and the server's encoder, whose
``encode_faces`` it calls under the server's lock (one model per process). Each visit is logged with its
crop, so the page's "Recent visits" shows it. While nobody is enrolled yet the door waits; when the
source gives up (no frame for ``give_up`` seconds) it is opened again after ``retry`` seconds (a video file or a
folder is read once). It stops
when the server stops (:meth:`CameraDoor.stop`: the source is closed, the visit under way is logged).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from facerec.exceptions import EmptyDatabase, FaceRecError

RETRY_S = 5.0  # seconds before the door opens its source again (after it gave up, or while nobody is enrolled)


class _LockedEncoder:
    """The server's encoder, its ``encode_faces`` run under the server's lock (the rest passes through)."""

    def __init__(self, encoder, lock: threading.Lock):
        self._encoder, self._lock = encoder, lock

    def __getattr__(self, name: str):
        return getattr(self._encoder, name)

    def encode_faces(self, *args, **kwargs):
        with self._lock:
            return self._encoder.encode_faces(*args, **kwargs)


class CameraDoor:
    """The door on ``source`` (a camera, an RTSP / MJPEG URL, a video file) for the database at ``db_path``.

    Args:
        source: what :func:`facerec.sources.open_source` opens.
        db_path: the server's database file, or its ``postgresql://`` URL.
        encoder, lock: the server's encoder and the lock that serialises it.
        keep_log_days: the door log's retention (visits follow it).
        max_fps: frames searched a second at most (None: as fast as the door goes; the rest are dropped).
        give_up, retry: seconds without a frame before the source is closed, and before it is opened again.
        options: more keyword arguments of :func:`facerec.door.run_door` (``detector``, ``visit_timeout``...).
    """

    def __init__(self, source: str, db_path: str | Path, encoder, lock: threading.Lock,
                 keep_log_days: float | None = None, max_fps: float | None = None, give_up: float = 30.0,
                 retry: float = RETRY_S, **options):
        self.source, self.db_path, self.encoder = source, db_path, _LockedEncoder(encoder, lock)  # a path or a URL
        self.keep_log_days, self.max_fps, self.give_up, self.retry = keep_log_days, max_fps, give_up, retry
        self.options = options
        self.visits = 0  # visits logged since the start
        self.error: str | None = None  # the last problem, for the server's log
        self._stop = threading.Event()
        self._frames = None
        self._guard = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="facerec-camera-door", daemon=True)

    def start(self) -> CameraDoor:
        self._thread.start()
        return self

    def _counted(self, visit: dict) -> None:
        self.visits += 1

    def _run(self) -> None:
        from facerec.database import FaceDatabase
        from facerec.door import run_door
        from facerec.sources import open_source

        while not self._stop.is_set():
            try:
                with self._guard:
                    if self._stop.is_set():
                        return
                    self._frames = open_source(self.source, self.max_fps, give_up=self.give_up)
                live = self._frames.live
                with FaceDatabase(self.db_path) as db:
                    run_door(self._frames, db, encoder=self.encoder, progress=False, log=True,
                             keep_log_days=self.keep_log_days, on_visit=self._counted, **self.options)
                self.error = None
                if not live:  # a video file or a folder is read once
                    return
            except EmptyDatabase:
                self.error = "nobody is enrolled yet; the door waits"
            except FaceRecError as error:
                self.error = str(error)
                print(f"facerec serve: camera: {error}; trying again in {self.retry:g} s", file=sys.stderr)
            finally:
                with self._guard:
                    if self._frames is not None:
                        self._frames.close()
                    self._frames = None
            self._stop.wait(self.retry)

    def stop(self, timeout: float = 30.0) -> None:
        """Close the source and wait for the door to log the visit under way and end."""
        self._stop.set()
        with self._guard:
            if self._frames is not None:
                self._frames.close()
        self._thread.join(timeout)
