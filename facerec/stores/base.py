"""What every store engine provides, and how a database's location names its engine.

A database is named by a location: a file path (the embedded SQLite engine, the default) or a
``postgresql://`` / ``postgres://`` URL (the PostgreSQL engine, :mod:`facerec.stores.postgres`).
:class:`facerec.database.FaceDatabase` opens the engine the location names (its subclasses
:class:`facerec.stores.sqlite.SqliteFaceDatabase`, :class:`facerec.stores.postgres.PostgresFaceDatabase`);
:class:`FaceStore` lists the operations every engine implements, so the CLI, the door and the server never
see which one it is.

Adding a table family (visits, photo library) to both engines: write its SQLite module and its PostgreSQL
twin in this folder with the same method names, and list those methods in a Protocol beside
:class:`FaceStore`; ``tests/test_stores.py``'s ``location`` fixture runs a test on both engines.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import numpy as np

URL_SCHEMES = ("postgresql", "postgres")


def is_url(location: str | os.PathLike | None) -> bool:
    """Whether ``location`` is a PostgreSQL URL (``postgresql://...`` or ``postgres://...``), not a file path."""
    if not isinstance(location, str):
        return False
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.lower() in URL_SCHEMES


def redact(location: str | os.PathLike) -> str:
    """``location`` safe to print: a URL without its password (``user:***@host``) nor its query string.

    The query may hold ``password=...`` too, so it is dropped whole; a file path is returned as it is.
    """
    if not is_url(location):
        return str(location)
    parts = urlsplit(str(location))
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        user = user.split(":", 1)[0] + (":***" if ":" in user else "")
        netloc = f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def location_of(text: str | os.PathLike):
    """A ``--db`` value as the front takes it: a URL stays a string, anything else becomes a :class:`Path`."""
    from pathlib import Path

    return str(text) if is_url(str(text)) else Path(text)


@runtime_checkable
class FaceStore(Protocol):
    """The operations of a face database, on any engine (see :class:`facerec.database.FaceDatabase`).

    Every write runs in one transaction (all or nothing); reads see the latest committed state, including
    other processes' writes; failures are the typed errors of :mod:`facerec.exceptions`.
    """

    path: object  # where it is, printable (a file path, or a URL without its password)

    # meta and encoder binding
    @property
    def encoder_name(self) -> str | None: ...
    @property
    def model_fingerprint(self) -> str | None: ...
    def check_model(self, fingerprint: str, encoder: str | None = None) -> None: ...
    def write_problem(self) -> str | None: ...
    def close(self) -> None: ...

    # people and faces
    def people(self) -> list: ...
    def names(self) -> list[str]: ...
    def count_faces(self) -> int: ...
    def person_id(self, name: str) -> int: ...
    def encodings(self, name: str | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def faces(self, name: str | None = None) -> list[dict]: ...
    def names_by_id(self) -> dict[int, str]: ...
    def photo_hashes(self, name: str) -> set[str]: ...
    def add_faces(self, name: str, records: Sequence, fingerprint: str,
                  encoder: str | None = None) -> tuple[list[str], list[str]]: ...
    def remove(self, name: str) -> int: ...
    def thumbnail(self, name: str) -> bytes | None: ...

    # the door log
    def log_events(self, events: Sequence, keep_days: float | None = ..., visit=None) -> int | None: ...
    def purge_log(self, keep_days: float = ...) -> int: ...
    def door_log(self, limit: int = 50, identity: str | None = None) -> list: ...

    # the server's access keys
    def add_key(self, name: str, role: str, sha256: str) -> str: ...
    def access_keys(self) -> list[dict]: ...
    def key_hashes(self) -> list[tuple[str, str, str]]: ...
    def has_keys(self) -> bool: ...
    def revoke_key(self, name: str) -> None: ...
    def touch_key(self, name: str) -> None: ...


@runtime_checkable
class VisitStore(Protocol):
    """The door's visits, their review and the known strangers, on either engine (SQL: ``sqlite_visits.py``,
    ``postgres_visits.py``; a visit is written by ``log_events(..., visit=VisitRecord)`` with its door-log row)."""

    stores_visits: bool

    def visits(self, limit: int = 50) -> list[dict]: ...
    def visit(self, visit: int) -> dict: ...
    def visit_crop(self, visit: int) -> bytes | None: ...
    def assign_visit(self, visit: int, name: str): ...
    def mark_stranger(self, visit: int) -> int: ...
    def known_strangers(self) -> np.ndarray: ...
    def forget_strangers(self) -> int: ...
