"""A door's log rows waiting for a shared store that is away: JSON lines in a local 0600 file.

Each row carries its idempotency key (``event_key``), made when the visit ended. :meth:`LogQueue.drain` sends
the queued rows and then empties the file; if the process dies between the store's commit and the emptying,
the rows are sent again at the next start and the store skips the keys it holds already: none lost, none twice.
JSON, never pickle: the file is plain text a person can read. A row may carry its visit (``visit``: the visit's
JSON object, its best crop and encoding in base64, :func:`facerec.stores.postgres_visits.queued`), stored once
under that row's key, so the file can hold faces: it is made 0600 in a 0700 folder and emptied once sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

QUEUE_DIR_ENV = "FACEREC_QUEUE_DIR"


def default_queue_path(location: str, door: str) -> Path:
    """``$FACEREC_QUEUE_DIR`` (default ``~/.cache/facerec``) / ``door-log-<door>-<hash of the location>.jsonl``.

    Args:
        location: the store's printable location (a URL without password).
        door: the door's name (one queue per door name: give each door process its own ``--door-name``).
    """
    folder = Path(os.environ.get(QUEUE_DIR_ENV) or Path.home() / ".cache" / "facerec")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in door)[:40] or "door"
    return folder / f"door-log-{safe}-{hashlib.sha256(location.encode()).hexdigest()[:12]}.jsonl"


class LogQueue:
    """The queue file of one door (thread-safe within a process).

    Args:
        path: the JSON-lines file (made 0600 in a 0700 folder when the first row is queued).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, rows: list[dict]) -> None:
        """Queue rows (each a JSON object with its ``event_key``), flushed to the disk before returning."""
        if not rows:
            return
        with self._lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
                handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
                handle.flush()
                os.fsync(handle.fileno())

    def pending(self) -> list[dict]:
        """The queued rows, oldest first (a last line torn by a crash is skipped: its visit was never confirmed)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        rows = []
        for line in lines:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def __len__(self) -> int:
        return len(self.pending())

    def drain(self, send: Callable[[list[dict]], None]) -> int:
        """Send every queued row with ``send`` (which raises when the store is away), then empty the queue.

        Returns:
            how many rows were sent (0 when none waited).
        """
        with self._lock:
            rows = self.pending()
            if rows:
                send(rows)
            self.path.unlink(missing_ok=True)
            return len(rows)
