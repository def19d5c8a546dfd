"""A background listener that tells a door when the shared gallery changed (PostgreSQL ``LISTEN``/``NOTIFY``).

Every write that changes the gallery bumps ``meta.generation`` and sends ``NOTIFY facerec_gallery, '<generation>'``
(:mod:`facerec.stores.postgres`). :class:`GalleryWatcher` holds its own connection listening on that channel and
keeps :attr:`GalleryWatcher.generation` current, so a door's search is rebuilt once per change without asking
the server on every request. When its connection is lost it sets the generation to None (unknown: the door then
asks the store itself, and keeps its gallery in memory while the store is away), reconnects with back-off, and
reads the generation afresh after reconnecting: a change missed meanwhile causes a full reload.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

RECONNECT_MIN_S, RECONNECT_MAX_S = 0.2, 5.0
POLL_S = 0.5  # how often the listener checks whether it was stopped


class GalleryWatcher(threading.Thread):
    """Listen for gallery changes on ``url`` (a daemon thread; :meth:`stop` ends it).

    Args:
        url: the store's URL (with its password, if any; never printed).
        channel: the NOTIFY channel.
        on_online: called (in this thread) after each (re)connection, e.g. to send queued door-log rows.
    """

    def __init__(self, url: str, channel: str, on_online: Callable[[], None] | None = None):
        super().__init__(name="facerec-gallery-watch", daemon=True)
        self.url, self.channel, self.on_online = url, channel, on_online
        self.generation: int | None = None  # None: unknown (not connected yet, or the connection was lost)
        self.online = threading.Event()
        self.reconnects = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        import psycopg

        delay = RECONNECT_MIN_S
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                     application_name="facerec-watch") as connection:
                    self._listen(connection)
                    delay = RECONNECT_MIN_S
            except psycopg.Error:
                pass
            self.generation = None
            if self.online.is_set():
                self.online.clear()
                self.reconnects += 1
            self._stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _listen(self, connection) -> None:
        connection.execute(f"LISTEN {self.channel}")
        self.generation = _read_generation(connection)  # after LISTEN: no change can fall between the two
        self.online.set()
        if self.on_online is not None:
            try:
                self.on_online()
            except Exception:  # noqa: BLE001 - the queue is sent again at the next change or reconnection
                pass
        while not self._stop.is_set():
            for notice in connection.notifies(timeout=POLL_S):
                self.generation = int(notice.payload)
            connection.execute("SELECT 1")  # a server that went away is noticed within POLL_S


def _read_generation(connection) -> int:
    import psycopg

    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0  # no schema yet: the first enrollment creates it and notifies generation 1
    return int(row[0]) if row else 0
