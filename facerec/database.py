"""Persistent face database in SQLite (standard library ``sqlite3``; never pickle).

Tables:

* ``meta(key, value)``: ``schema_version``, ``encoder`` (the name of the encoder
  the database was created with, ``dlib`` or ``nn4``; see :mod:`facerec.encoders`),
  ``model_fingerprint`` (SHA-256 of that encoder's weights, its ``fingerprint``)
  and ``created`` (UTC ISO 8601). A database from before encoders were named
  has no ``encoder`` row and is an ``nn4`` database.
* ``people(id, name UNIQUE, created)``.
* ``faces(id, person_id, encoding, source, sha256, box_left, box_top, box_right,
  box_bottom, added)``: ``encoding`` is 128 little-endian float32 (512 bytes),
  ``source`` the photo's file name, ``sha256`` its content hash, the box is
  ``(left, top, right, bottom)`` pixels of the photo as loaded (EXIF-rotated).
* ``access_keys(name, role, sha256, created, last_used)``: ``facerec serve``'s keys
  (``facerec keys``; see :mod:`facerec.server.security`), only the SHA-256 of each key;
  created when the first key is added, like ``door_log`` and ``thumbnails``.

Guarantees: every write runs in one ``BEGIN IMMEDIATE`` transaction, so an
enrollment that fails or is killed half-way leaves the database as it was; the
database is in WAL mode with a busy timeout, so several processes may enroll at
once and none loses a row. A database holding encodings of other weights is
refused with :class:`~facerec.exceptions.ModelMismatch`, and so is a call with
another encoder than the database's: every call that is not told otherwise uses
the database's own encoder (:meth:`FaceDatabase.load_encoder`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from facerec.align import DEFAULT_DETECTOR
from facerec.exceptions import (
    DatabaseError,
    EmptyDatabase,
    FaceNotFound,
    ImageNotReadable,
    ImageTooLarge,
    InvalidArgument,
    ModelMismatch,
    UnknownIdentity,
)
from facerec.search import ENCODING_SIZE, PersonSearch, make_search

SCHEMA_VERSION = 1
APPLICATION_ID = 0x46524543  # "FREC" in the SQLite header marks a facerec database
BUSY_TIMEOUT_MS = 60_000
_ENCODING_DTYPE = np.dtype("<f4")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    encoding BLOB NOT NULL CHECK (length(encoding) = 512),
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    box_left INTEGER, box_top INTEGER, box_right INTEGER, box_bottom INTEGER,
    added TEXT NOT NULL,
    UNIQUE (person_id, sha256)
);
CREATE INDEX IF NOT EXISTS faces_person ON faces(person_id);
"""
# Tables added later: created when first written (so older databases and read-only files still open).
_DOOR_LOG = """CREATE TABLE IF NOT EXISTS door_log (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, identity TEXT, distance REAL NOT NULL,
    admitted INTEGER NOT NULL, source TEXT NOT NULL DEFAULT '')"""
_THUMBNAILS = """CREATE TABLE IF NOT EXISTS thumbnails (
    person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE, jpeg BLOB NOT NULL)"""
_ACCESS_KEYS = """CREATE TABLE IF NOT EXISTS access_keys (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, created TEXT NOT NULL, last_used TEXT)"""


def now_utc() -> str:
    """The current UTC time, ISO 8601 with seconds (the database's timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FaceRecord:
    """One face to store: its encoding and where it came from.

    Attributes:
        encoding: ``(128,)`` float32 encoding.
        source: the photo's file name (or any label for an array).
        sha256: hex SHA-256 of the photo's bytes (of the array's bytes for arrays).
        box: ``(left, top, right, bottom)`` pixels of the face in the photo.
        thumbnail: a small JPEG of the face (kept as the person's picture if they have none yet), or None.
    """

    encoding: np.ndarray
    source: str
    sha256: str
    box: tuple[int, int, int, int]
    thumbnail: bytes | None = None


@dataclass(frozen=True)
class Person:
    """An enrolled person: database id, name, number of photos, first enrollment (UTC ISO 8601)."""

    id: int
    name: str
    photos: int
    created: str


@dataclass(frozen=True)
class DoorEvent:
    """One face seen at the door (the ``door_log`` table).

    Attributes:
        time: UTC ISO 8601 timestamp.
        identity: the person recognised, or None for a stranger.
        distance: L2 distance to the closest enrolled photo.
        admitted: whether the door let them in.
        source: where the face was seen (a photo's name, ``camera``, a video frame).
    """

    time: str
    identity: str | None
    distance: float
    admitted: bool
    source: str = ""

    def to_json(self) -> dict:
        """``{"time", "identity", "distance", "admitted", "source"}``."""
        return {"time": self.time, "identity": self.identity, "distance": round(float(self.distance), 6),
                "admitted": bool(self.admitted), "source": self.source}


@dataclass(frozen=True)
class EnrollResult:
    """What :meth:`FaceDatabase.enroll` stored.

    Attributes:
        name: the person.
        added: sources of the photos stored now, in input order.
        duplicates: sources skipped because this person already has that exact photo (same SHA-256).
        failed: ``(source, reason)`` of photos skipped for having no face / not being readable / too large
            (with ``skip_bad=True``, the default; otherwise the first one raises and nothing is stored).
    """

    name: str
    added: list[str]
    duplicates: list[str]
    failed: list[tuple[str, str]]


class FaceDatabase:
    """A face database file: people, their photos' encodings and the model that made them.

    Use as a context manager, or call :meth:`close`. Reading methods see the
    latest committed state, including other processes' enrollments.

    Args:
        path: SQLite file (created with its folder when missing, if ``create``).
        create: create a missing database (default True); else raise DatabaseError.
        encoder: the encoder's name (``"dlib"`` or ``"nn4"``) for a new database, recorded
            at once; for an existing one, a check: another encoder than the database's is
            refused. Default ``None``: a new database gets :data:`facerec.encoders.DEFAULT_ENCODER`
            at its first enrollment, an existing one keeps its own.
        shared: allow calls from several threads (the caller serialises them with a lock, as the server does).

    Raises:
        DatabaseError: the file is not a facerec SQLite database, is damaged, or
            is missing and ``create`` is False.
        ModelMismatch: ``encoder`` is not the encoder of the faces already stored.
    """

    def __init__(self, path: str | os.PathLike, create: bool = True, encoder: str | None = None,
                 shared: bool = False):
        self.path = Path(path)
        if self.path.is_dir():
            raise DatabaseError(f"{self.path} is a directory; give the database a file name such as faces.sqlite")
        if not self.path.exists() and not create:
            raise DatabaseError(f"database {self.path} does not exist; enroll someone first to create it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = None
        self._search_cache: tuple[tuple, PersonSearch] | None = None
        self._writes = 0
        try:
            self._connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                               check_same_thread=not shared)
            self._configure_with_retries()
        except sqlite3.Error as error:
            self.close()
            if "locked" in str(error):
                raise DatabaseError(f"database {self.path} stayed locked by another process for "
                                    f"{BUSY_TIMEOUT_MS // 1000} s; try again when it is done") from error
            raise DatabaseError(f"{self.path} is not a usable facerec database ({error}); "
                                "check the path, or move the file away to start a new database") from error
        except BaseException:
            self.close()
            raise
        if encoder is not None:
            try:
                self._bind_encoder(encoder)
            except BaseException:
                self.close()
                raise

    # -- connection and schema -------------------------------------------------

    def _configure_with_retries(self) -> None:
        """:meth:`_configure`, retried while another process creates the same new file.

        SQLite answers "database is locked" at once, without waiting, when two
        connections race to set up a fresh database (switching to WAL, or a read
        lock upgraded to a write lock); retrying until the busy timeout is safe
        because the schema is created in one transaction.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.02
        while True:
            try:
                return self._configure()
            except (sqlite3.OperationalError, DatabaseError) as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _configure(self) -> None:
        connection = self._connection
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys = ON")
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application_id not in (0, APPLICATION_ID) or (tables and application_id != APPLICATION_ID):
            raise DatabaseError(f"{self.path} is an SQLite database but not a facerec one; "
                                "use another file name for the face database")
        if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        if application_id == 0:
            with self._transaction():
                for statement in _SCHEMA.strip().split(";\n"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (now_utc(),))
                connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        version = self._meta("schema_version")
        if version != str(SCHEMA_VERSION):
            raise DatabaseError(f"{self.path} has facerec schema version {version}, this facerec reads version "
                                f"{SCHEMA_VERSION}; re-enroll into a new database")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls everything back."""
        connection = self._require_open()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise DatabaseError(f"cannot write {self.path}: {error}; another program may hold it "
                                f"for more than {BUSY_TIMEOUT_MS // 1000} s") from error
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise DatabaseError(f"cannot write {self.path}: {error}; nothing was changed") from error
            raise
        finally:
            self._writes += 1

    def _require_open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise DatabaseError(f"database {self.path} is closed")
        return self._connection

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a read query; SQLite failures (damaged file, disk errors) become :class:`DatabaseError`."""
        try:
            return self._require_open().execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise DatabaseError(f"cannot read {self.path}: {error}") from error

    def _meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._search_cache = None

    def __enter__(self) -> FaceDatabase:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FaceDatabase({str(self.path)!r})"

    # -- model identity ----------------------------------------------------------

    @property
    def model_fingerprint(self) -> str | None:
        """SHA-256 of the weights that made the stored encodings (None before the first enrollment)."""
        return self._meta("model_fingerprint")

    @property
    def encoder_name(self) -> str | None:
        """The database's encoder (``"dlib"``, ``"nn4"``); None for a new database not yet bound to one."""
        name = self._meta("encoder")
        if name is None and self.model_fingerprint is not None:
            return "nn4"  # databases from before encoders were named hold nn4 encodings
        return name

    def load_encoder(self, weights_dir: str | os.PathLike | None = None):
        """The database's encoder, loaded (shared per process); a new database gets the default encoder.

        Args:
            weights_dir: nn4's weights folder, if not the default.
        """
        from facerec.encoders import load_encoder

        return load_encoder(self.encoder_name, weights_dir)

    def _bind_encoder(self, name: str) -> None:
        """Record ``name`` as the encoder of a database without faces; refuse it on one with other faces."""
        from facerec.encoders import check_encoder_name

        check_encoder_name(name)
        if self.encoder_name == name:
            return
        if self.count_faces() > 0:
            raise ModelMismatch(self._mismatch_message(name))
        with self._transaction() as connection:
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('encoder', ?)", (name,))
            connection.execute("DELETE FROM meta WHERE key = 'model_fingerprint'")

    def _mismatch_message(self, name: str) -> str:
        return (f"database {self.path} holds {self.encoder_name} encodings, and this call uses the {name} encoder; "
                f"leave out --encoder (facerec then uses the database's own {self.encoder_name} encoder), or enroll "
                f"the people into a new database to use {name}")

    def check_model(self, fingerprint: str, encoder: str | None = None) -> None:
        """Raise :class:`ModelMismatch` if the stored encodings come from another encoder or other weights.

        Args:
            fingerprint: the encoder's weights fingerprint.
            encoder: the encoder's name (default: the database's own).

        A database without faces accepts any weights (it is re-bound on the next enrollment).
        """
        if self.count_faces() == 0:
            return
        if encoder is not None and self.encoder_name not in (None, encoder):
            raise ModelMismatch(self._mismatch_message(encoder))
        stored = self.model_fingerprint
        if stored is None or stored == fingerprint:
            return
        raise ModelMismatch(f"database {self.path} was built with other weights (fingerprint {stored[:12]}) "
                            f"than the ones loaded now ({fingerprint[:12]}); enroll the people again into a new "
                            "database, or load the weights it was built with (FACEREC_WEIGHTS / --weights)")

    def check_encoder(self, encoder) -> None:
        """:meth:`check_model` for an encoder object (its ``name`` and ``fingerprint``)."""
        self.check_model(encoder.fingerprint, getattr(encoder, "name", None))

    # -- reading -----------------------------------------------------------------

    def people(self) -> list[Person]:
        """Every enrolled person, sorted by name."""
        rows = self._query(
            "SELECT p.id, p.name, COUNT(f.id), p.created FROM people p LEFT JOIN faces f ON f.person_id = p.id "
            "GROUP BY p.id ORDER BY p.name")
        return [Person(*row) for row in rows]

    def names(self) -> list[str]:
        """Enrolled names, sorted."""
        return [row[0] for row in self._query("SELECT name FROM people ORDER BY name")]

    def count_faces(self) -> int:
        """Number of stored encodings."""
        return self._query("SELECT COUNT(*) FROM faces")[0][0]

    def person_id(self, name: str) -> int:
        """Database id of ``name``; raises :class:`UnknownIdentity` (listing the known names) if absent."""
        rows = self._query("SELECT id FROM people WHERE name = ?", (name,))
        if not rows:
            names = self.names()
            known = ", ".join(names[:50]) + (f" and {len(names) - 50} more" if len(names) > 50 else "")
            raise UnknownIdentity(f"{name!r} is not enrolled in {self.path}; "
                                  + (f"known names: {known}" if names else "the database is empty; enroll people "
                                     "first (facerec --db PATH enroll NAME PHOTO...)"))
        return int(rows[0][0])

    def encodings(self, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Stored encodings, ordered by face id (enrollment order).

        Args:
            name: only this person's (raises :class:`UnknownIdentity` if absent); default everyone's.

        Returns:
            ``(encodings (N, 128) float32, person_ids (N,) int64)``.
        """
        query, params = "SELECT encoding, person_id FROM faces ORDER BY id", ()
        if name is not None:
            query, params = "SELECT encoding, person_id FROM faces WHERE person_id = ? ORDER BY id", (
                self.person_id(name),)
        rows = self._query(query, params)
        matrix = np.frombuffer(b"".join(row[0] for row in rows), dtype=_ENCODING_DTYPE)
        matrix = matrix.reshape(len(rows), ENCODING_SIZE).astype(np.float32)
        return matrix, np.array([row[1] for row in rows], dtype=np.int64)

    def faces(self, name: str | None = None) -> list[dict]:
        """Metadata of stored faces (no encodings): ``id, name, source, sha256, box, added``, by face id."""
        query = ("SELECT f.id, p.name, f.source, f.sha256, f.box_left, f.box_top, f.box_right, f.box_bottom, f.added "
                 "FROM faces f JOIN people p ON p.id = f.person_id")
        params: tuple = ()
        if name is not None:
            query, params = query + " WHERE f.person_id = ?", (self.person_id(name),)
        rows = self._query(query + " ORDER BY f.id", params)
        return [{"id": r[0], "name": r[1], "source": r[2], "sha256": r[3], "box": list(r[4:8]), "added": r[8]}
                for r in rows]

    def names_by_id(self) -> dict[int, str]:
        """``{person id: name}`` of everyone enrolled."""
        return dict(self._query("SELECT id, name FROM people"))

    def searcher(self, backend: str = "exact") -> PersonSearch:
        """A search over all stored encodings (see :mod:`facerec.search`), rebuilt only after writes.

        Raises:
            EmptyDatabase: no encodings are stored.
        """
        version = self._query("PRAGMA data_version")[0][0]
        key = (backend, version, self._writes)
        if self._search_cache is None or self._search_cache[0] != key:
            encodings, ids = self.encodings()
            if len(encodings) == 0:
                raise EmptyDatabase(f"database {self.path} holds no faces; enroll people first "
                                    "(facerec --db PATH enroll NAME PHOTO...)")
            self._search_cache = (key, make_search(encodings, ids, backend))
        return self._search_cache[1]

    # -- writing -----------------------------------------------------------------

    def add_faces(self, name: str, records: Sequence[FaceRecord], fingerprint: str,
                  encoder: str | None = None) -> tuple[list[str], list[str]]:
        """Store encodings of one person in one transaction (all or nothing).

        Args:
            name: the person (created if new).
            records: the faces to add.
            fingerprint: the ``fingerprint`` of the encoder's weights that made the encodings.
            encoder: that encoder's name (default: the database's, else ``"nn4"``).

        Returns:
            ``(added, duplicates)``: sources stored, and sources skipped because this
            person already has a photo with the same SHA-256.

        Raises:
            ModelMismatch: the database holds encodings of other weights.
            InvalidArgument: empty name or a malformed encoding.
        """
        name = _check_name(name)
        blobs = [_encoding_blob(record.encoding) for record in records]
        added, duplicates = [], []
        with self._transaction() as connection:
            encoder = encoder or self.encoder_name or "nn4"
            self.check_model(fingerprint, encoder)
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('model_fingerprint', ?)", (fingerprint,))
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('encoder', ?)", (encoder,))
            connection.execute("INSERT OR IGNORE INTO people (name, created) VALUES (?, ?)", (name, now_utc()))
            person = connection.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()[0]
            for record, blob in zip(records, blobs):
                if self._insert_face(connection, person, record, blob):
                    added.append(record.source)
                else:
                    duplicates.append(record.source)
            picture = next((record.thumbnail for record in records if record.thumbnail), None)
            if picture:
                connection.execute(_THUMBNAILS)
                connection.execute("INSERT OR IGNORE INTO thumbnails VALUES (?, ?)", (person, picture))
        return added, duplicates

    @staticmethod
    def _insert_face(connection: sqlite3.Connection, person: int, record: FaceRecord, blob: bytes) -> bool:
        cursor = connection.execute(
            "INSERT OR IGNORE INTO faces (person_id, encoding, source, sha256, box_left, box_top, box_right, "
            "box_bottom, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (person, blob, record.source, record.sha256, *[int(v) for v in record.box], now_utc()))
        return cursor.rowcount == 1

    def enroll(self, name: str, images: Iterable, encoder=None, skip_bad: bool = True,
               progress: bool = False, detector: str = DEFAULT_DETECTOR,
               labels: Sequence[str] | None = None) -> EnrollResult:
        """Encode photos of one person and store them, all in one transaction.

        Each photo contributes its largest face. All photos are encoded before
        anything is written, so a failure or an interruption stores nothing.

        Args:
            name: the person (created if new; more photos may be added later).
            images: photo paths (or RGB arrays, stored with source ``"array"``).
            encoder: an encoder object (default: the database's own, :meth:`load_encoder`).
            skip_bad: skip photos without a face, unreadable or too large ones (listed
                in ``failed``, default True: one bad photo in a folder of fifty does not
                stop the other 49); False: the first bad photo raises and nothing is stored.
            progress: show a progress bar on stderr.
            detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (default), see :func:`facerec.detect_faces`.
            labels: a name per image to record as its source (e.g. an uploaded file's name for
                an array); default: the file's name, or ``"array"``.

        Raises:
            FaceNotFound / ImageNotReadable / ImageTooLarge: a photo has no face, cannot
                be read or is too large (with ``skip_bad=False``), or none of the photos is
                usable (the first one's error, naming every photo); nothing is stored.
            InvalidArgument: no photo given.
            ModelMismatch: the database holds encodings of another encoder or other weights.
        """
        from tqdm import tqdm

        name = _check_name(name)
        images = list(images)
        if not images:
            raise InvalidArgument(f"no photos given to enroll {name!r}")
        labels = list(labels) if labels is not None else [_name_of(image) for image in images]
        if len(labels) != len(images):
            raise InvalidArgument(f"{len(labels)} labels for {len(images)} photos")
        encoder = encoder or self.load_encoder()
        self.check_encoder(encoder)
        records, failed, errors = [], [], []
        for image, label in tqdm(list(zip(images, labels)), desc=f"enrolling {name}", unit="photo",
                                 disable=not progress):
            try:
                records.append(_encode_photo(image, encoder, detector, label))
            except (FaceNotFound, ImageNotReadable, ImageTooLarge) as error:
                if not skip_bad:
                    raise
                failed.append((label, str(error)))
                errors.append(error)
        if not records:
            raise type(errors[0])(f"none of the {len(images)} photo(s) of {name!r} holds a usable face, nothing "
                                  "was enrolled: " + "; ".join(f"{source}: {reason}" for source, reason in failed))
        added, duplicates = self.add_faces(name, records, encoder.fingerprint, encoder.name)
        return EnrollResult(name, added, duplicates, failed)

    def remove(self, name: str) -> int:
        """Delete a person and all their photos; returns the number of photos removed.

        Raises:
            UnknownIdentity: ``name`` is not enrolled (the message lists who is).
        """
        with self._transaction() as connection:
            person = self.person_id(name)
            removed = connection.execute("DELETE FROM faces WHERE person_id = ?", (person,)).rowcount
            connection.execute(_THUMBNAILS)
            connection.execute("DELETE FROM thumbnails WHERE person_id = ?", (person,))
            connection.execute("DELETE FROM people WHERE id = ?", (person,))
        return removed

    # -- the door log and the people's pictures -----------------------------------

    def log_events(self, events: Sequence[DoorEvent]) -> None:
        """Append door events to the persistent log (one transaction)."""
        if not events:
            return
        with self._transaction() as connection:
            connection.execute(_DOOR_LOG)
            connection.executemany(
                "INSERT INTO door_log (time, identity, distance, admitted, source) VALUES (?, ?, ?, ?, ?)",
                [(e.time, e.identity, float(e.distance), int(bool(e.admitted)), e.source) for e in events])

    def door_log(self, limit: int = 50) -> list[DoorEvent]:
        """The last ``limit`` door events, newest first (empty when nothing was logged yet)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise InvalidArgument(f"limit must be a non-negative integer, got {limit!r}")
        if not self._has_table("door_log"):
            return []
        rows = self._query("SELECT time, identity, distance, admitted, source FROM door_log "
                           "ORDER BY id DESC LIMIT ?", (limit,))
        return [DoorEvent(time, identity, distance, bool(admitted), source)
                for time, identity, distance, admitted, source in rows]

    def thumbnail(self, name: str) -> bytes | None:
        """The person's picture (a small JPEG of their first enrolled face), or None if there is none.

        Raises:
            UnknownIdentity: ``name`` is not enrolled.
        """
        person = self.person_id(name)
        if not self._has_table("thumbnails"):
            return None
        rows = self._query("SELECT jpeg FROM thumbnails WHERE person_id = ?", (person,))
        return bytes(rows[0][0]) if rows else None

    def _has_table(self, table: str) -> bool:
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))

    # -- access keys ----------------------------------------------------------------
    # The server's keys (see facerec.server.security): a name, a role and the SHA-256 of the key;
    # the key itself is never stored.

    def add_key(self, name: str, role: str, sha256: str) -> str:
        """Store a new key's digest under ``name``; returns its creation time (UTC ISO 8601).

        Raises:
            InvalidArgument: a key of that name exists already.
        """
        created = now_utc()
        with self._transaction() as connection:
            connection.execute(_ACCESS_KEYS)
            if connection.execute("SELECT 1 FROM access_keys WHERE name = ?", (name,)).fetchone():
                raise InvalidArgument(f"a key named {name!r} exists already in {self.path}; revoke it first "
                                      f"(facerec keys revoke {name}) or choose another name")
            connection.execute("INSERT INTO access_keys (name, role, sha256, created) VALUES (?, ?, ?, ?)",
                               (name, role, sha256, created))
        return created

    def access_keys(self) -> list[dict]:
        """Every key, by name: ``{"name", "role", "created", "last_used"}`` (never the key or its digest)."""
        if not self._has_table("access_keys"):
            return []
        rows = self._query("SELECT name, role, created, last_used FROM access_keys ORDER BY name")
        return [{"name": n, "role": r, "created": c, "last_used": u} for n, r, c, u in rows]

    def key_hashes(self) -> list[tuple[str, str, str]]:
        """``(name, role, sha256)`` of every key (for the server's lookup)."""
        if not self._has_table("access_keys"):
            return []
        return [tuple(row) for row in self._query("SELECT name, role, sha256 FROM access_keys ORDER BY name")]

    def has_keys(self) -> bool:
        """Whether the database holds any key (then the server asks every request for one)."""
        return self._has_table("access_keys") and bool(self._query("SELECT 1 FROM access_keys LIMIT 1"))

    def revoke_key(self, name: str) -> None:
        """Delete the key ``name`` (it stops working at once).

        Raises:
            InvalidArgument: there is no key of that name.
        """
        with self._transaction() as connection:
            connection.execute(_ACCESS_KEYS)
            if connection.execute("DELETE FROM access_keys WHERE name = ?", (name,)).rowcount != 1:
                names = [row[0] for row in connection.execute("SELECT name FROM access_keys ORDER BY name")]
                raise InvalidArgument(f"no key named {name!r} in {self.path}; "
                                      + (f"the keys are: {', '.join(names)}" if names else "it holds no keys"))

    def touch_key(self, name: str) -> None:
        """Record that the key ``name`` was used now."""
        with self._transaction() as connection:
            connection.execute("UPDATE access_keys SET last_used = ? WHERE name = ?", (now_utc(), name))


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument(f"a person's name must be a non-empty string, got {name!r}")
    return name.strip()


def _encoding_blob(encoding: np.ndarray) -> bytes:
    vector = np.asarray(encoding, dtype=np.float32).ravel()
    if vector.shape != (ENCODING_SIZE,) or not np.all(np.isfinite(vector)):
        raise InvalidArgument(f"an encoding must be {ENCODING_SIZE} finite floats, got shape {np.shape(encoding)}")
    return vector.astype(_ENCODING_DTYPE).tobytes()


def _encode_photo(image, encoder, detector: str, label: str | None = None) -> FaceRecord:
    """The :class:`FaceRecord` of a photo's largest face (:class:`FaceNotFound` when it has none)."""
    from facerec.align import find_faces

    rgb, faces = find_faces(image, all_faces=False, detector=detector)
    source, sha = _source_of(image)
    return FaceRecord(encoder.encode_faces(rgb, faces[:1])[0], label or source, sha, faces[0].box,
                      _thumbnail(rgb, faces[0].box))


THUMBNAIL_SIDE = 96


def _thumbnail(rgb: np.ndarray, box: tuple[int, int, int, int]) -> bytes | None:
    """A ``THUMBNAIL_SIDE`` px JPEG of the face's box with a margin (None if it cannot be made)."""
    import cv2

    left, top, right, bottom = box
    margin = (right - left) // 4
    height, width = rgb.shape[:2]
    crop = rgb[max(0, top - margin):min(height, bottom + margin), max(0, left - margin):min(width, right + margin)]
    if crop.size == 0:
        return None
    crop = cv2.resize(crop, (THUMBNAIL_SIDE, THUMBNAIL_SIDE), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data.tobytes() if ok else None


def _name_of(image) -> str:
    return "array" if isinstance(image, np.ndarray) else Path(image).name


def _source_of(image) -> tuple[str, str]:
    """``(file name, sha256)`` of a photo path, or ``("array", sha256 of the bytes)`` for an array."""
    if isinstance(image, np.ndarray):
        return "array", hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
    path = Path(image)
    try:
        return path.name, file_sha256(path)
    except OSError as error:
        raise ImageNotReadable(f"cannot read {path}: {error.strerror or error}") from error
