"""The face database's engine-independent front: :class:`FaceDatabase` and the records it reads and writes.

``FaceDatabase(path)`` opens the engine its location names: a file path the SQLite engine
(:class:`facerec.stores.sqlite.SqliteFaceDatabase`, its tables and guarantees described there), a
``postgresql://`` URL the PostgreSQL one (:class:`facerec.stores.postgres.PostgresFaceDatabase`); both are
FaceDatabases with the same API and guarantees. This module holds no SQL (all of it lives in
:mod:`facerec.stores`): enrollment (encoding photos, all before one write), the encoder binding checks, the
visits' review and the names' checks, written once over the engine's methods, which the class declares.

Guarantees (each engine keeps them): a write is one transaction, so an enrollment that fails or is killed
half-way leaves the database as it was, and several processes may enroll at once without losing a row. A
database holding encodings of other weights is refused with :class:`~facerec.exceptions.ModelMismatch`, and so
is a call with another encoder than the database's: every call that is not told otherwise uses the database's
own encoder (:meth:`FaceDatabase.load_encoder`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from facerec.align import DEFAULT_DETECTOR
from facerec.exceptions import (
    FaceNotFound,
    ImageNotReadable,
    ImageTooLarge,
    InvalidArgument,
    ModelMismatch,
    UnknownIdentity,
    UnknownVisit,
)
from facerec.names import check_name, printable_name
from facerec.search import ENCODING_SIZE, PersonSearch
from facerec.stores.sqlite_visits import VisitRecord
from facerec.stores.widths import EncodingWidth
from facerec.visits import VISIT_CROP_SIDE

DEFAULT_KEEP_LOG_DAYS = 30  # door-log rows older than this are deleted when the log is next written
MAX_LIMIT = 1_000_000_000  # the most rows a listing may ask for
ENCODING_DTYPE = np.dtype("<f4")
_ENGINE = "each engine implements this: facerec/stores/sqlite.py, facerec/stores/postgres.py"
# SQLite's names, importable from here as before (PEP 562): they live in facerec/stores/sqlite.py
_SQLITE_NAMES = ("SCHEMA_VERSION", "APPLICATION_ID", "BUSY_TIMEOUT_MS", "MIN_FREE_BYTES", "_SCHEMA", "_DOOR_LOG",
                 "_THUMBNAILS", "_ACCESS_KEYS", "_can_write", "_disk_is_full", "_read_only_reason",
                 "_make_private_folders")


def __getattr__(name: str):
    """SQLite's constants and helpers (:data:`_SQLITE_NAMES`), read from :mod:`facerec.stores.sqlite`."""
    if name in _SQLITE_NAMES:
        from facerec.stores import sqlite

        return getattr(sqlite, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        door: the name of the door that logged it (read from the log; None or "" when it has none). A write
            takes the database's ``door`` instead.
    """

    time: str
    identity: str | None
    distance: float
    admitted: bool
    source: str = ""
    door: str | None = None

    def to_json(self) -> dict:
        """``{"time", "identity", "distance", "admitted", "source", "door"}`` (``door``: null when not named)."""
        return {"time": self.time, "identity": self.identity, "distance": round(float(self.distance), 6),
                "admitted": bool(self.admitted), "source": self.source, "door": self.door or None}


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



def not_enrolled(name: str, anyone: bool) -> UnknownIdentity:
    """The error for ``name`` not being enrolled; ``anyone``: whether anybody is. It names neither the other people
    nor the database (it may reach a client who may not see them)."""
    if not anyone:
        return UnknownIdentity(f"{printable_name(name)!r} is not enrolled: the database is empty; enroll "
                               "people first (facerec --db PATH enroll NAME PHOTO...)")
    return UnknownIdentity(f"{printable_name(name)!r} is not enrolled; check the spelling (facerec --db PATH "
                           "people lists who is), or enroll them first")

class FaceDatabase(EncodingWidth):
    """A face database file: people, their photos' encodings and the model that made them.

    Use as a context manager, or call :meth:`close`. Reading methods see the
    latest committed state, including other processes' enrollments.

    Args:
        path: SQLite file (created with its folder when missing, if ``create``), or a ``postgresql://`` URL
            (:mod:`facerec.stores.postgres`: the same API and guarantees in a PostgreSQL database).
        create: create a missing database (default True); else raise DatabaseError.
        encoder: the encoder's name (``"dlib"`` or ``"nn4"``) for a new database, recorded
            at once; for an existing one, a check: another encoder than the database's is
            refused. Default ``None``: a new database gets :data:`facerec.encoders.DEFAULT_ENCODER`
            at its first enrollment, an existing one keeps its own.
        shared: allow calls from several threads (the caller serialises them with a lock, as the server does).
        read_only: open for reading only.
        door: this process's door name, written into every door-log row (default ``$FACEREC_DOOR``, else "").

    Raises:
        DatabaseError: the file is not a facerec SQLite database, is damaged, or
            is missing and ``create`` is False.
        ModelMismatch: ``encoder`` is not the encoder of the faces already stored.
    """

    def __new__(cls, path: str | os.PathLike, *args, **kwargs):
        """The engine the location names: a ``postgresql://`` URL opens
        :class:`~facerec.stores.postgres.PostgresFaceDatabase`, a path
        :class:`~facerec.stores.sqlite.SqliteFaceDatabase` (both are FaceDatabases)."""
        if cls is FaceDatabase:
            from facerec.stores.base import is_url

            if is_url(path):
                from facerec.stores.postgres import PostgresFaceDatabase as engine
            else:
                from facerec.stores.sqlite import SqliteFaceDatabase as engine
            return super().__new__(engine)
        return super().__new__(cls)

    # -- the engine's methods: each engine (facerec/stores/sqlite.py, facerec/stores/postgres.py) implements these --

    def _is_ready(self) -> bool:
        """Whether the file holds facerec's schema now (another process may have created it since)."""
        raise NotImplementedError(_ENGINE)

    def _check_same_file(self) -> None:
        """Raise :class:`DatabaseGone` if the open file was removed or replaced since it was opened."""
        raise NotImplementedError(_ENGINE)

    def _transaction(self) -> AbstractContextManager:
        """A write transaction (a context manager giving the engine's connection); any exception rolls it back."""
        raise NotImplementedError(_ENGINE)

    def _query(self, sql: str, params: tuple = (), empty: list | None = None) -> list[tuple]:
        """Run a read query; the engine's failures (damaged file, disk, server) become :class:`DatabaseError`."""
        raise NotImplementedError(_ENGINE)

    def _meta(self, key: str) -> str | None:
        """The value of the meta row ``key``, or None."""
        raise NotImplementedError(_ENGINE)

    def write_problem(self) -> str | None:
        """Why a write would fail now (read-only, disk full, file removed or replaced), or None when it would not."""
        raise NotImplementedError(_ENGINE)

    def checkpoint(self) -> None:
        """After a removal: leave no copy of removed rows behind (SQLite truncates its WAL; a no-op elsewhere)."""
        raise NotImplementedError(_ENGINE)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        raise NotImplementedError(_ENGINE)

    def _bind_encoder(self, name: str) -> None:
        """Record ``name`` as the encoder of a database without faces; refuse it on one with other faces."""
        raise NotImplementedError(_ENGINE)

    def people(self) -> list[Person]:
        """Every enrolled person, sorted by name."""
        raise NotImplementedError(_ENGINE)

    def names(self) -> list[str]:
        """Enrolled names, sorted."""
        raise NotImplementedError(_ENGINE)

    def count_faces(self) -> int:
        """Number of stored encodings."""
        raise NotImplementedError(_ENGINE)

    def person_id(self, name: str) -> int:
        """Database id of ``name`` (NFC, trimmed: :func:`facerec.names.normalise_name`)."""
        raise NotImplementedError(_ENGINE)

    def encodings(self, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Stored encodings, ordered by face id (enrollment order)."""
        raise NotImplementedError(_ENGINE)

    def faces(self, name: str | None = None) -> list[dict]:
        """Metadata of stored faces (no encodings): ``id, name, source, sha256, box, added``, by face id."""
        raise NotImplementedError(_ENGINE)

    def names_by_id(self) -> dict[int, str]:
        """``{person id: name}`` of everyone enrolled."""
        raise NotImplementedError(_ENGINE)

    def searcher(self, backend: str = "exact") -> PersonSearch:
        """A search over all stored encodings (see :mod:`facerec.search`), rebuilt only after writes."""
        raise NotImplementedError(_ENGINE)

    def add_faces(self, name: str, records: Sequence[FaceRecord], fingerprint: str,
                  encoder: str | None = None, then=None) -> tuple[list[str], list[str]]:
        """Store encodings of one person in one transaction (all or nothing)."""
        raise NotImplementedError(_ENGINE)

    def photo_hashes(self, name: str) -> set[str]:
        """The SHA-256 hex digests of the photos stored for ``name`` (empty for someone not enrolled)."""
        raise NotImplementedError(_ENGINE)

    def remove(self, name: str) -> int:
        """Delete a person, their photos, picture, door-log rows and visits; returns the photos removed."""
        raise NotImplementedError(_ENGINE)

    def log_events(self, events: Sequence[DoorEvent], keep_days: float | None = DEFAULT_KEEP_LOG_DAYS,
                   visit: VisitRecord | None = None) -> int | None:
        """Append door events to the persistent log (one transaction), dropping rows older than ``keep_days``."""
        raise NotImplementedError(_ENGINE)

    def purge_log(self, keep_days: float = DEFAULT_KEEP_LOG_DAYS) -> int:
        """Delete door-log rows older than ``keep_days`` days (0: every row); returns how many were deleted."""
        raise NotImplementedError(_ENGINE)

    def door_log(self, limit: int = 50, identity: str | None = None) -> list[DoorEvent]:
        """The last ``limit`` door events, newest first (empty when nothing was logged yet)."""
        raise NotImplementedError(_ENGINE)

    def export_person(self, name: str) -> tuple[dict, bytes | None]:
        """Everything stored about one person, for a person who asks what is kept about them."""
        raise NotImplementedError(_ENGINE)

    def thumbnail(self, name: str) -> bytes | None:
        """The person's picture (a small JPEG of their first enrolled face), or None if there is none."""
        raise NotImplementedError(_ENGINE)

    def _has_table(self, table: str) -> bool:
        """The value of the meta row ``key``, or None."""
        raise NotImplementedError(_ENGINE)

    def add_key(self, name: str, role: str, sha256: str) -> str:
        """Store a new key's digest under ``name``; returns its creation time (UTC ISO 8601)."""
        raise NotImplementedError(_ENGINE)

    def access_keys(self) -> list[dict]:
        """Every key, by name: ``{"name", "role", "created", "last_used"}`` (never the key or its digest)."""
        raise NotImplementedError(_ENGINE)

    def key_hashes(self) -> list[tuple[str, str, str]]:
        """``(name, role, sha256)`` of every key (for the server's lookup)."""
        raise NotImplementedError(_ENGINE)

    def has_keys(self) -> bool:
        """Whether the database holds any key (then the server asks every request for one)."""
        raise NotImplementedError(_ENGINE)

    def revoke_key(self, name: str) -> None:
        """Delete the key ``name`` (it stops working at once)."""
        raise NotImplementedError(_ENGINE)

    def touch_key(self, name: str) -> None:
        """Record that the key ``name`` was used now."""
        raise NotImplementedError(_ENGINE)

    # -- engine-independent --------------------------------------------------------

    @property
    def writable(self) -> bool:
        """Whether writes can succeed now (the file or its folder writable, space on its disk, the same file)."""
        return self.write_problem() is None

    def __enter__(self) -> FaceDatabase:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- model identity ----------------------------------------------------------

    @property
    def model_fingerprint(self) -> str | None:
        """SHA-256 of the weights that made the stored encodings (None before the first enrollment)."""
        return self._meta("model_fingerprint")

    @property
    def encoder_name(self) -> str | None:
        """The database's encoder (``"dlib"``, ``"nn4"``); None for a new database not yet bound to one."""
        if not self._is_ready():
            return self._pending_encoder  # recorded by the first write
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

    @staticmethod
    def _insert_face(connection, person: int, record: FaceRecord, blob: bytes) -> bool:
        """Inside the SQLite engine's :meth:`add_faces`: store one face row (False: a duplicate photo); the SQL is
        :func:`facerec.stores.sqlite.insert_face`. Kept on the front as the hook where tests simulate a crash half-way
        through a write (they replace ``FaceDatabase._insert_face``)."""
        from facerec.stores.sqlite import insert_face

        return insert_face(connection, person, record, blob)

    def enroll(self, name: str, images: Iterable, encoder=None, skip_bad: bool = True,
               progress: bool = False, detector: str = DEFAULT_DETECTOR,
               labels: Sequence[str] | None = None, hashes: Sequence[str] | None = None) -> EnrollResult:
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
            hashes: a SHA-256 hex digest per image to record (e.g. of an uploaded file's bytes, for its
                decoded array); default: of the file's bytes, or of the array's.

        Raises:
            FaceNotFound / ImageNotReadable / ImageTooLarge: a photo has no face, cannot
                be read or is too large (with ``skip_bad=False``), or none of the photos is
                usable (the first one's error, naming every photo); nothing is stored.
            InvalidArgument: no photo given.
            ModelMismatch: the database holds encodings of another encoder or other weights.
        """
        from tqdm import tqdm

        name = check_name(name)
        images = list(images)
        if not images:
            raise InvalidArgument(f"no photos given to enroll {name!r}")
        labels = list(labels) if labels is not None else [_name_of(image) for image in images]
        if len(labels) != len(images) or (hashes is not None and len(hashes) != len(images)):
            raise InvalidArgument(f"{len(labels)} labels and {len(hashes or images)} hashes for {len(images)} photos")
        hashes = list(hashes) if hashes is not None else [None] * len(images)
        encoder = encoder or self.load_encoder()
        self.check_encoder(encoder)
        records, failed, errors, early_duplicates = [], [], [], []
        seen = self.photo_hashes(name)  # a photo this person already has is recognised before it is decoded
        for image, label, sha in tqdm(list(zip(images, labels, hashes)), desc=f"enrolling {name}", unit="photo",
                                      disable=not progress):
            try:
                sha = sha or _sha_of(image)
                if sha in seen:
                    early_duplicates.append(label)
                    continue
                seen.add(sha)
                records.append(_encode_photo(image, encoder, detector, label, sha))
            except (FaceNotFound, ImageNotReadable, ImageTooLarge) as error:
                if not skip_bad:
                    raise
                failed.append((label, str(error)))
                errors.append(error)
        if not records and errors:
            raise type(errors[0])(f"none of the {len(images)} photo(s) of {name!r} holds a usable face, nothing "
                                  "was enrolled: " + "; ".join(f"{source}: {reason}" for source, reason in failed))
        added, duplicates = self.add_faces(name, records, encoder.fingerprint, encoder.name) if records else ([], [])
        return EnrollResult(name, added, early_duplicates + duplicates, failed)

    # -- the photo library (facerec/library/; SQL in facerec/stores/*_library.py) ----------------------------------

    _library_sql = None  # the engine's photo-library module (facerec.stores.sqlite_library, .postgres_library)

    @property
    def library_sql(self):
        """The engine's photo-library module: the same functions on every engine (``photo_states``, ``save``,
        ``faces``, ``face_rows``, ``set_groups``, ``mark_named``, ``add_not``...), so :mod:`facerec.library` never
        asks which engine it is."""
        return self._library_sql

    # -- visits: the door's decisions with their best crops (SQL in facerec/stores/*_visits.py) ------------------

    stores_visits = True  # whether this engine keeps the door's visits (log_events(visit=...), the methods below)
    _visits_sql = None  # the engine's visits module (facerec.stores.sqlite_visits, .postgres_visits)

    def _check_visits(self) -> None:
        if not self.stores_visits:
            raise InvalidArgument("this database keeps no visits; the door log (facerec log) still lists each visit")

    def visits(self, limit: int = 50) -> list[dict]:
        """The last ``limit`` visits, newest first: ``door --json``'s objects (``visit`` is the stored id) with
        ``crop`` (whether a crop is stored) and ``review`` (null, or ``{"name", "stranger", "time"}``)."""
        _check_limit(limit)
        return self._visits_sql.recent(self._query, limit) if self.stores_visits else []

    def visit(self, visit: int) -> dict:
        """One visit's object (see :meth:`visits`).

        Raises:
            UnknownVisit: no visit has that id (never logged, or deleted by the retention or a removal).
        """
        self._check_visits()
        found = self._visits_sql.one(self._query, _visit_id(visit))
        if found is None:
            raise _unknown_visit(visit)
        return found

    def visit_crop(self, visit: int) -> bytes | None:
        """The JPEG of a visit's best face (None: none was stored). Raises :class:`UnknownVisit`."""
        self._check_visits()
        found, jpeg = self._visits_sql.crop(self._query, _visit_id(visit))
        if not found:
            raise _unknown_visit(visit)
        return jpeg

    def assign_visit(self, visit: int, name: str) -> EnrollResult:
        """"This is NAME": enroll the visit's best face to ``name`` and record the review, in one transaction.

        The face stored is the encoding the door made of that crop's frame (full resolution, the database's
        encoder: :meth:`add_faces` refuses one of other weights), with source ``visit-<id>.jpg``, the crop's
        SHA-256 and the crop as the person's picture if they have none.

        Raises:
            UnknownVisit: no such visit. InvalidArgument: a bad name, or the visit holds no face.
            ModelMismatch: the visit was encoded with other weights than the database's faces.
        """
        self._check_visits()
        visit, name = _visit_id(visit), check_name(name)
        jpeg, blob, fingerprint = self._visit_face(visit)
        side = VISIT_CROP_SIDE
        record = FaceRecord(np.frombuffer(blob, ENCODING_DTYPE).astype(np.float32), f"visit-{visit}.jpg",
                            hashlib.sha256(jpeg or blob).hexdigest(), (side // 6, side // 6, side - side // 6,
                                                                        side - side // 6), jpeg)

        def review(connection) -> None:
            if self._visits_sql.face_of(connection, visit) is None:  # deleted meanwhile: nothing is enrolled
                raise _unknown_visit(visit)
            self._visits_sql.mark_reviewed(connection, visit, name, now_utc())

        added, duplicates = self.add_faces(name, [record], fingerprint, self.encoder_name, then=review)
        return EnrollResult(name, added, duplicates, [])

    def mark_stranger(self, visit: int) -> int:
        """"Not anyone we know": keep the visit's encoding as a known stranger; returns its id (see
        :meth:`known_strangers`). Raises :class:`UnknownVisit`, or InvalidArgument when it holds no face."""
        self._check_visits()
        visit = _visit_id(visit)
        with self._transaction() as connection:
            face = self._visits_sql.face_of(connection, visit)
            if face is None:
                raise _unknown_visit(visit)
            if face[1] is None:
                raise InvalidArgument(f"visit {visit} holds no face encoding; nothing to keep")
            stranger = self._visits_sql.add_stranger(connection, face[1], face[2], visit, now_utc())
            self._visits_sql.mark_reviewed(connection, visit, None, now_utc())
        return stranger

    def known_strangers(self) -> np.ndarray:
        """The known strangers' encodings made with this database's weights: ``(N, D)`` float32 (``D`` =
        :attr:`encoding_size`), oldest first (for decision rules that use them as a cohort); none on an engine
        without visits."""
        if not self.stores_visits:
            return np.zeros((0, ENCODING_SIZE), np.float32)
        blobs = self._visits_sql.strangers(self._query, self.model_fingerprint)
        width = self.encoding_size if blobs else ENCODING_SIZE
        matrix = np.frombuffer(b"".join(blobs), dtype=ENCODING_DTYPE).reshape(len(blobs), width)
        return matrix.astype(np.float32)

    def forget_strangers(self) -> int:
        """Delete every known stranger's encoding (overwritten in the file); returns how many."""
        with self._transaction() as connection:
            removed = self._visits_sql.forget_strangers(connection)
        self.checkpoint()
        return removed

    def _visit_face(self, visit: int) -> tuple[bytes | None, bytes, str]:
        """``(crop, encoding blob, fingerprint)`` of a visit that holds a face."""
        if not self._visits_sql.has_visits(self._query):
            raise _unknown_visit(visit)
        with self._transaction() as connection:  # a read of the three, consistent; nothing is written
            face = self._visits_sql.face_of(connection, visit)
        if face is None:
            raise _unknown_visit(visit)
        if face[1] is None or face[2] is None:
            raise InvalidArgument(f"visit {visit} holds no face encoding; enroll a photo instead")
        return face


def _visit_id(visit) -> int:
    if isinstance(visit, bool) or not isinstance(visit, int) or not 0 < visit < 2**63:
        raise InvalidArgument(f"a visit id is a positive integer (facerec visits lists them), got {visit!r}")
    return visit


def _unknown_visit(visit) -> UnknownVisit:
    return UnknownVisit(f"no visit {visit} in the database: it was never logged, or the log's retention or a "
                        "removal deleted it; facerec visits lists the visits kept")


def _check_limit(limit) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be an integer from 0 to {MAX_LIMIT:,}, got {limit!r}")


def file_name(source: str) -> str:
    """A door event's source without its folders (the log keeps no paths)."""
    return Path(source.replace("\\", "/")).name if source else ""


def face_matrix(rows: list[tuple], size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(encodings (N, size) float32, person ids (N,) int64)`` of ``(encoding bytes, person_id)`` rows, as both
    engines read the ``faces`` table."""
    matrix = np.frombuffer(b"".join(row[0] for row in rows), dtype=ENCODING_DTYPE)
    return (matrix.reshape(len(rows), size if rows else 0).astype(np.float32),
            np.array([row[1] for row in rows], dtype=np.int64))


def face_json(row: tuple) -> dict:
    """One face's metadata of an ``(id, name, source, sha256, left, top, right, bottom, added)`` row."""
    return {"id": int(row[0]), "name": row[1], "source": row[2], "sha256": row[3], "box": list(row[4:8]),
            "added": row[8]}


def check_days(days: float) -> None:
    """Raises :class:`InvalidArgument` unless ``days`` (a retention) is a number from 0 to 1,000,000."""
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 <= days < 1e6:
        raise InvalidArgument(f"a retention must be a number of days from 0 to 1,000,000, got {days!r}")


def days_ago(days: float) -> str:
    """The UTC ISO 8601 time ``days`` days ago (the door log's time format, so strings compare in order)."""
    from datetime import timedelta

    check_days(days)
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="seconds")


def encoding_blob(encoding: np.ndarray) -> bytes:
    """An encoding's little-endian float32 bytes (its width is checked against the database's by the write)."""
    vector = np.asarray(encoding, dtype=np.float32).ravel()
    if vector.size == 0 or not np.all(np.isfinite(vector)):
        raise InvalidArgument(f"an encoding must be one row of finite floats (128 for dlib and nn4), "
                              f"got shape {np.shape(encoding)}")
    return vector.astype(ENCODING_DTYPE).tobytes()


def _encode_photo(image, encoder, detector: str, label: str | None = None, sha: str | None = None) -> FaceRecord:
    """The :class:`FaceRecord` of a photo's largest face (:class:`FaceNotFound` when it has none)."""
    from facerec.align import find_faces

    rgb, faces = find_faces(image, all_faces=False, detector=detector)
    source = _name_of(image)
    return FaceRecord(encoder.encode_faces(rgb, faces[:1])[0], label or source, sha or _sha_of(image), faces[0].box,
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


def _sha_of(image) -> str:
    """SHA-256 of a photo file's bytes (checked first: missing, directory, empty), or of an array's bytes."""
    if isinstance(image, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
    from facerec.image import check_image_path

    path = check_image_path(image)
    try:
        return file_sha256(path)
    except OSError as error:
        raise ImageNotReadable(f"cannot read {path}: {error.strerror or error}") from error
