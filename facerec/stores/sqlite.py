"""The SQLite engine of the face database: :class:`SqliteFaceDatabase`, ``FaceDatabase(path)`` for a file path.

Standard library ``sqlite3``, never pickle. Every SQLite statement of the face database and of its files (connect,
schema, transactions, file modes, read-only and full-disk detection) is here or in the ``sqlite_*`` modules beside it
(visits, door log, library, dump); :class:`facerec.database.FaceDatabase` is the engine-independent front.

Tables:

* ``meta(key, value)``: ``schema_version``, ``encoder`` (the name of the encoder
  the database was created with, ``dlib`` or ``nn4``; see :mod:`facerec.encoders`),
  ``model_fingerprint`` (SHA-256 of that encoder's weights, its ``fingerprint``)
  and ``created`` (UTC ISO 8601). A database from before encoders were named
  has no ``encoder`` row and is an ``nn4`` database.
* ``people(id, name UNIQUE, created)``.
* ``faces(id, person_id, encoding, source, sha256, box_left, box_top, box_right,
  box_bottom, added)``: ``encoding`` is 128 little-endian float32 (512 bytes; a wider encoder's
  database records its width in ``meta`` and checks that length instead, :mod:`facerec.stores.widths`),
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
the database's own encoder (:meth:`~facerec.database.FaceDatabase.load_encoder`).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from facerec.database import (
    DEFAULT_KEEP_LOG_DAYS,
    MAX_LIMIT,
    DoorEvent,
    FaceDatabase,
    FaceRecord,
    Person,
    check_days,
    days_ago,
    encoding_blob,
    face_json,
    face_matrix,
    file_name,
    not_enrolled,
    now_utc,
)
from facerec.exceptions import (
    DatabaseError,
    DatabaseGone,
    DatabaseNotWritable,
    EmptyDatabase,
    InvalidArgument,
    ModelMismatch,
)
from facerec.names import check_name, normalise_name
from facerec.search import PersonSearch, make_search
from facerec.stores import sqlite_door_log, sqlite_library, sqlite_visits
from facerec.stores.sqlite_visits import VisitRecord
from facerec.stores.widths import encoder_blocks, faces_schema, width_meta

SCHEMA_VERSION = 2  # 2: door_log.door (facerec/stores/sqlite_door_log.py upgrades version 1 files)
APPLICATION_ID = 0x46524543  # "FREC" in the SQLite header marks a facerec database
BUSY_TIMEOUT_MS = 60_000
MIN_FREE_BYTES = 1 << 20  # below this much free space the disk counts as full (health, write_problem)

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
    admitted INTEGER NOT NULL, source TEXT NOT NULL DEFAULT '', door TEXT)"""
_THUMBNAILS = """CREATE TABLE IF NOT EXISTS thumbnails (
    person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE, jpeg BLOB NOT NULL)"""
_ACCESS_KEYS = """CREATE TABLE IF NOT EXISTS access_keys (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, created TEXT NOT NULL, last_used TEXT)"""


class SqliteFaceDatabase(FaceDatabase):
    """A face database in an SQLite file; made by ``FaceDatabase(path)`` (see :class:`~facerec.database.FaceDatabase`
    for the arguments and the errors)."""

    _visits_sql = sqlite_visits  # the visits' SQL: facerec/stores/sqlite_visits.py
    _library_sql = sqlite_library  # the photo library's SQL: facerec/stores/sqlite_library.py

    def __init__(self, path: str | os.PathLike, create: bool = True, encoder: str | None = None,
                 shared: bool = False, read_only: bool = False, door: str | None = None):
        self.path = Path(path)
        self.door = os.environ.get("FACEREC_DOOR", "") if door is None else door  # written into door-log rows
        self._upgrade_from: str | None = None  # an older schema version, upgraded by the next write
        if self.path.is_dir():
            raise DatabaseError(f"{self.path} is a directory; give the database a file name such as faces.sqlite")
        if not self.path.exists() and not create:
            raise DatabaseError(f"database {self.path} does not exist; enroll someone first to create it")
        self._connection: sqlite3.Connection | None = None
        self._shared, self._read_only, self._immutable = shared, read_only, False
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file this object opened
        self._ready = False  # the file holds facerec's schema (else: created by the first write)
        self._pending_encoder: str | None = None
        self._search_cache: tuple[tuple, PersonSearch] | None = None
        self._writes = 0
        if self.path.exists():
            self._open_existing()
        if encoder is not None:
            try:
                self._bind_encoder(encoder)
            except BaseException:
                self.close()
                raise

    # -- connection and schema -------------------------------------------------
    #
    # A new database file is not made when the object is made: the first write creates it (mode 0600, in
    # folders made 0700) and its schema in the same transaction as that write, so a command that fails
    # before writing leaves no file behind, and nothing ever has to delete a database file.

    def _open_existing(self) -> None:
        """Connect to the existing file and check that it is a facerec database (retried while it is created)."""
        try:
            self._connect()
            deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
            delay = 0.02
            while True:
                try:
                    return self._check_schema()
                except sqlite3.OperationalError as error:  # another process is creating it right now
                    if "locked" not in str(error) or time.monotonic() > deadline:
                        raise
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
        except sqlite3.Error as error:
            self.close()
            if self._can_read_immutably(error):  # a full disk: SQLite cannot make its -shm file, so read it as is
                self._immutable = True
                return self._open_existing()
            raise self._sqlite_error(error, "open") from error
        except BaseException:
            self.close()
            raise

    def _can_read_immutably(self, error: sqlite3.Error) -> bool:
        """Whether an open that failed because SQLite could not make its ``-shm`` file (a full or read-only disk
        or folder) may read the file as it is, read-only.

        That is exact only when no committed transaction waits in the ``-wal`` file, i.e. it is empty or absent.
        """
        text = str(error).lower()
        if self._immutable or not ("disk i/o" in text or "full" in text or "unable to open" in text):
            return False
        if "unable to open" in text and not self._read_only:
            return False
        wal = Path(f"{self.path}-wal")
        return not wal.exists() or wal.stat().st_size == 0

    def _connect(self) -> None:
        """Open the file read-write, or read-only where the file, its folder or its disk cannot be written."""
        writable = not self._read_only and not self._immutable and _can_write(self.path)
        self._read_only = not writable
        uri = f"{self.path.resolve().as_uri()}?mode={'rw' if writable else 'ro'}"
        if self._immutable:
            uri += "&immutable=1"
        self._connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                           check_same_thread=not self._shared)
        stat = os.stat(self.path)
        self._identity = (stat.st_dev, stat.st_ino)
        self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._connection.execute("PRAGMA foreign_keys = ON")
        self._connection.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten with zeros

    def _check_schema(self) -> None:
        """Mark the database ready if it holds facerec's schema; a blank SQLite file stays "to be created".

        Both facts are read in one read transaction, so a file another process is creating right now is seen
        either before or after its creating transaction, never half-way.
        """
        connection = self._require_open()
        connection.execute("BEGIN")
        try:
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            tables = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        finally:
            if connection.in_transaction:
                connection.execute("COMMIT")
        if application_id == 0 and tables == 0:
            return  # blank (e.g. an interrupted creation): the first write creates the schema
        if application_id != APPLICATION_ID:
            raise DatabaseError(f"{self.path} is an SQLite database but not a facerec one; "
                                "use another file name for the face database")
        version = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        # -- schema migration hook: an older version is upgraded in a write transaction, or read as it is --------
        if version is not None and version[0] in sqlite_door_log.UPGRADABLE_VERSIONS:
            self._upgrade_from, self._ready = version[0], True
            return self._upgrade()
        # -- end of the schema migration hook -----------------------------------------------------------------
        if version is None or version[0] != str(SCHEMA_VERSION):
            raise DatabaseError(f"{self.path} has facerec schema version {version and version[0]}, this facerec "
                                f"reads version {SCHEMA_VERSION}; re-enroll into a new database")
        self._ready = True

    def _upgrade(self) -> None:
        """Upgrade an older file now (one write transaction, see :meth:`_transaction`); a file that cannot be
        written is read as it is (its next write, if any, upgrades it first)."""
        if self._read_only:
            return
        try:
            with self._transaction():
                pass
        except DatabaseNotWritable:
            pass

    def _is_ready(self) -> bool:
        """Whether the file holds facerec's schema now (another process may have created it since)."""
        if self._ready:
            return True
        if self._connection is None:
            if not self.path.exists():
                return False
            self._open_existing()
        else:
            try:
                self._check_schema()
            except sqlite3.Error as error:
                raise self._sqlite_error(error, "read") from error
        return self._ready

    def _create_file(self) -> None:
        """Make the new database file (0600; missing folders 0700) and connect to it."""
        _make_private_folders(self.path.parent)
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:  # another process made it first: use theirs
            pass
        except OSError as error:
            raise self._os_error(error) from error
        self._open_existing()

    def _create_schema(self, connection: sqlite3.Connection) -> None:
        """Inside the first write's transaction: facerec's schema, unless another process made it first."""
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        if application_id == APPLICATION_ID:
            return
        if connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
            raise DatabaseError(f"{self.path} is an SQLite database but not a facerec one; "
                                "use another file name for the face database")
        blocks = self._pending_blocks or encoder_blocks(self._pending_encoder)  # hook: encodings' width (issue 23)
        for statement in _SCHEMA.strip().split(";\n"):
            if statement.strip():
                connection.execute(faces_schema(statement, blocks))
        connection.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", width_meta(blocks))
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (now_utc(),))
        if self._pending_encoder is not None:
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('encoder', ?)", (self._pending_encoder,))
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def _check_same_file(self) -> None:
        """Raise :class:`DatabaseGone` if the open file was removed or replaced since it was opened."""
        if self._identity is None:
            return
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise DatabaseGone(f"the database file {self.path} was removed while facerec had it open; nothing "
                               "was written. Restore the file, or restart to start a new database") from None
        except OSError as error:
            raise self._os_error(error) from error
        if (stat.st_dev, stat.st_ino) != self._identity:
            raise DatabaseGone(f"the database file {self.path} was replaced by another file while facerec had it "
                               "open; nothing was written. Restart to use the new file")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls everything back.

        The first write to a new database creates the file and its schema inside this same transaction.
        """
        self._check_same_file()
        if self._read_only:
            raise DatabaseNotWritable(f"cannot write {self.path}: {_read_only_reason(self.path)}; nothing was "
                                      "changed (reading still works)")
        if self._connection is None:
            self._create_file()
        connection = self._require_open()
        self._begin(connection)
        creating = not self._ready
        try:
            if creating:
                self._create_schema(connection)
                self._ready = True  # inside this transaction; undone below if it rolls back
            if self._upgrade_from is not None:  # an older file: upgraded first, in this same transaction
                sqlite_door_log.upgrade(connection, str(SCHEMA_VERSION))
            yield connection
            connection.execute("COMMIT")
            self._upgrade_from = None
        except BaseException as error:
            if creating:
                self._ready = False
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise self._sqlite_error(error, "write") from error
            raise
        finally:
            self._writes += 1

    def _begin(self, connection: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE`` (a new file switched to WAL first), retried until the busy timeout.

        SQLite answers "database is locked" at once, without waiting for its busy timeout, when two
        connections race to set up a fresh file (switching it to WAL, or upgrading a read lock to a
        write lock); retrying is safe because nothing has been done yet.
        """
        deadline, delay = time.monotonic() + BUSY_TIMEOUT_MS / 1000, 0.02
        while True:
            try:
                if not self._ready and connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = FULL")
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise self._sqlite_error(error, "write") from error
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except sqlite3.Error as error:
                raise self._sqlite_error(error, "write") from error

    def _sqlite_error(self, error: sqlite3.Error, action: str) -> DatabaseError:
        """The typed error for an SQLite failure while ``action`` (open, read, write) the database."""
        text = str(error).lower()
        if "full" in text:
            return DatabaseNotWritable(f"cannot write {self.path}: the disk is full; free some space and try "
                                       "again (nothing was changed)")
        if "readonly" in text or "read-only" in text:
            return DatabaseNotWritable(f"cannot write {self.path}: {_read_only_reason(self.path)}; nothing was "
                                       "changed (reading still works)")
        if "locked" in text or "busy" in text:
            return DatabaseError(f"database {self.path} stayed locked by another process for "
                                 f"{BUSY_TIMEOUT_MS // 1000} s; try again when it is done")
        if "disk i/o" in text or "unable to open" in text:
            return DatabaseNotWritable(f"cannot {action} {self.path}: {error} (a disk or permission problem, "
                                       "not a damaged database); check the disk and the folder's permissions")
        if action == "write":
            return DatabaseError(f"cannot write {self.path}: {error}; nothing was changed")
        return DatabaseError(f"{self.path} is not a usable facerec database ({error}); "
                             "check the path, or move the file away to start a new database")

    def _os_error(self, error: OSError) -> DatabaseError:
        if error.errno == errno.ENOSPC:
            return DatabaseNotWritable(f"cannot write {self.path}: the disk is full; free some space and try again")
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return DatabaseNotWritable(f"cannot write {self.path}: {_read_only_reason(self.path)}")
        return DatabaseNotWritable(f"cannot write {self.path}: {error.strerror or error}")

    def write_problem(self) -> str | None:
        """Why a write would fail now (read-only, disk full, file removed or replaced), or None when it would not."""
        try:
            self._check_same_file()
        except DatabaseError as error:
            return str(error)
        if _disk_is_full(self.path) or self._read_only or not _can_write(self.path):
            return f"cannot write {self.path}: {_read_only_reason(self.path)}"
        return None

    def _require_open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise DatabaseError(f"database {self.path} is closed")
        return self._connection

    def _query(self, sql: str, params: tuple = (), empty: list | None = None) -> list[tuple]:
        """Run a read query; SQLite failures (damaged file, disk errors) become :class:`DatabaseError`.

        Args:
            empty: the answer while the database has no schema yet (nothing was ever written); default ``[]``.
        """
        self._check_same_file()
        if not self._is_ready():
            return list(empty or [])
        try:
            return self._require_open().execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise self._sqlite_error(error, "read") from error

    def _meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def checkpoint(self) -> None:
        """Copy the WAL into the main file and truncate it, so removed rows leave no copy in ``-wal``."""
        if self._connection is None or self._read_only:
            return
        try:
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            raise self._sqlite_error(error, "write") from error

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._search_cache = None

    def __repr__(self) -> str:
        return f"FaceDatabase({str(self.path)!r})"

    # -- the encoder's binding (its checks are the front's: facerec.database) ---------

    def _bind_encoder(self, name: str) -> None:
        """Record ``name`` as the encoder of a database without faces; refuse it on one with other faces."""
        from facerec.encoders import check_encoder_name

        check_encoder_name(name)
        if not self._is_ready():  # a new database: recorded with its first write, not before
            self._pending_encoder = name
            return
        if self.encoder_name == name:
            return
        if self.count_faces() > 0:
            raise ModelMismatch(self._mismatch_message(name))
        self._check_width(name, [])  # hook: the faces table holds one width (issue 23)
        with self._transaction() as connection:
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('encoder', ?)", (name,))
            connection.execute("DELETE FROM meta WHERE key = 'model_fingerprint'")

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
        return self._query("SELECT COUNT(*) FROM faces", empty=[(0,)])[0][0]

    def person_id(self, name: str) -> int:
        """Database id of ``name`` (NFC, trimmed: :func:`facerec.names.normalise_name`).

        Raises:
            UnknownIdentity: ``name`` is not enrolled. The message names neither the other people nor the
                database's path (it may reach a client who may not see them); ``facerec people`` lists them.
        """
        name = normalise_name(name)
        rows = self._query("SELECT id FROM people WHERE name = ?", (name,))
        if not rows:
            raise not_enrolled(name, bool(self._query("SELECT 1 FROM people LIMIT 1")))
        return int(rows[0][0])

    def encodings(self, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Stored encodings, ordered by face id (enrollment order).

        Args:
            name: only this person's (raises :class:`UnknownIdentity` if absent); default everyone's.

        Returns:
            ``(encodings (N, D) float32, person_ids (N,) int64)``, ``D`` = :attr:`encoding_size` (128 for
            dlib and nn4).
        """
        query, params = "SELECT encoding, person_id FROM faces ORDER BY id", ()
        if name is not None:
            query, params = "SELECT encoding, person_id FROM faces WHERE person_id = ? ORDER BY id", (
                self.person_id(name),)
        return face_matrix(self._query(query, params), self.encoding_size)

    def faces(self, name: str | None = None) -> list[dict]:
        """Metadata of stored faces (no encodings): ``id, name, source, sha256, box, added``, by face id."""
        query = ("SELECT f.id, p.name, f.source, f.sha256, f.box_left, f.box_top, f.box_right, f.box_bottom, f.added "
                 "FROM faces f JOIN people p ON p.id = f.person_id")
        params: tuple = ()
        if name is not None:
            query, params = query + " WHERE f.person_id = ?", (self.person_id(name),)
        rows = self._query(query + " ORDER BY f.id", params)
        return [face_json(r) for r in rows]

    def names_by_id(self) -> dict[int, str]:
        """``{person id: name}`` of everyone enrolled."""
        return dict(self._query("SELECT id, name FROM people"))

    def searcher(self, backend: str = "exact") -> PersonSearch:
        """A search over all stored encodings (see :mod:`facerec.search`), rebuilt only after writes.

        Raises:
            EmptyDatabase: no encodings are stored.
        """
        version = self._query("PRAGMA data_version", empty=[(0,)])[0][0]
        key = (backend, version, self._writes)
        if self._search_cache is None or self._search_cache[0] != key:
            encodings, ids = self.encodings()
            if len(encodings) == 0:
                raise EmptyDatabase(f"database {self.path} holds no faces; enroll people first "
                                    "(facerec --db PATH enroll NAME PHOTO...)")
            self._search_cache = (key, make_search(encodings, ids, backend, blocks=self.encoding_blocks))
        return self._search_cache[1]

    # -- writing -----------------------------------------------------------------

    def add_faces(self, name: str, records: Sequence[FaceRecord], fingerprint: str,
                  encoder: str | None = None, then=None) -> tuple[list[str], list[str]]:
        """Store encodings of one person in one transaction (all or nothing).

        Args:
            name: the person (created if new).
            records: the faces to add.
            fingerprint: the ``fingerprint`` of the encoder's weights that made the encodings.
            encoder: that encoder's name (default: the database's, else ``"nn4"``).
            then: called with the connection inside the same transaction, after the faces are stored
                (a visit's review is recorded with its enrollment: :meth:`assign_visit`).

        Returns:
            ``(added, duplicates)``: sources stored, and sources skipped because this
            person already has a photo with the same SHA-256.

        Raises:
            ModelMismatch: the database holds encodings of other weights.
            EncodingSizeMismatch: the encodings' width is not the database's.
            InvalidArgument: empty name or a malformed encoding.
        """
        name = check_name(name)
        blobs = [encoding_blob(record.encoding) for record in records]
        added, duplicates = [], []
        self._prepare_width(encoder or self.encoder_name or "nn4")  # hook: a new database takes its width
        with self._transaction() as connection:
            encoder = encoder or self.encoder_name or "nn4"
            self.check_model(fingerprint, encoder)
            self._check_width(encoder, records)
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
            if then is not None:
                then(connection)
        return added, duplicates

    def photo_hashes(self, name: str) -> set[str]:
        """The SHA-256 hex digests of the photos stored for ``name`` (empty for someone not enrolled)."""
        rows = self._query("SELECT f.sha256 FROM faces f JOIN people p ON p.id = f.person_id WHERE p.name = ?",
                           (normalise_name(name),))
        return {row[0] for row in rows}

    def remove(self, name: str) -> int:
        """Delete a person, all their photos, their picture, their door-log rows and visits (with their crops);
        returns the photos removed.

        Nothing of them stays in the file: deleted rows are overwritten (``secure_delete``) and the WAL is
        checkpointed and truncated afterwards (:meth:`checkpoint`). Their door-log rows are deleted rather
        than kept without a name: a row "someone was admitted at 10:02" still says when they came.

        Raises:
            UnknownIdentity: ``name`` is not enrolled.
        """
        with self._transaction() as connection:
            person = self.person_id(name)
            stored = connection.execute("SELECT name FROM people WHERE id = ?", (person,)).fetchone()[0]
            removed = connection.execute("DELETE FROM faces WHERE person_id = ?", (person,)).rowcount
            connection.execute(_THUMBNAILS)
            connection.execute("DELETE FROM thumbnails WHERE person_id = ?", (person,))
            connection.execute(_DOOR_LOG)
            connection.execute("DELETE FROM door_log WHERE identity = ?", (stored,))
            sqlite_visits.delete_person(connection, stored)  # their visits and crops
            connection.execute("DELETE FROM people WHERE id = ?", (person,))
        self.checkpoint()
        return removed

    # -- the door log and the people's pictures -----------------------------------

    def log_events(self, events: Sequence[DoorEvent], keep_days: float | None = DEFAULT_KEEP_LOG_DAYS,
                   visit: VisitRecord | None = None) -> int | None:
        """Append door events to the persistent log (one transaction), dropping rows older than ``keep_days``.

        Args:
            events: the events; each ``source`` is stored as a file name only (no folders).
            keep_days: the log's retention in days (default :data:`DEFAULT_KEEP_LOG_DAYS`); None keeps every row.
                Visits (and their crops) follow the same retention.
            visit: the door's visit these events are, stored in the same transaction (see :meth:`visits`).

        Returns:
            the visit's id (None without ``visit``).

        Raises:
            DatabaseNotWritable: the disk is full or read-only (nothing was logged).
        """
        if not events:
            return None
        with self._transaction() as connection:
            connection.execute(_DOOR_LOG)
            connection.executemany(
                "INSERT INTO door_log (time, identity, distance, admitted, source, door) VALUES (?, ?, ?, ?, ?, ?)",
                [(e.time, e.identity, float(e.distance), int(bool(e.admitted)), file_name(e.source), self.door)
                 for e in events])
            if keep_days is not None:
                connection.execute("DELETE FROM door_log WHERE time < ?", (days_ago(keep_days),))
                sqlite_visits.purge_before(connection, days_ago(keep_days))
            return None if visit is None else sqlite_visits.insert(connection, visit, self.door)

    def purge_log(self, keep_days: float = DEFAULT_KEEP_LOG_DAYS) -> int:
        """Delete door-log rows older than ``keep_days`` days (0: every row); returns how many were deleted.

        The visits (and their crops) older than that are deleted with them.

        The rows are overwritten in the file and the WAL truncated (see :meth:`remove`).

        Raises:
            InvalidArgument: ``keep_days`` is negative or not a number.
        """
        check_days(keep_days)
        if not self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'door_log'"):
            return 0
        with self._transaction() as connection:
            if keep_days == 0:
                removed = connection.execute("DELETE FROM door_log").rowcount
            else:
                removed = connection.execute("DELETE FROM door_log WHERE time < ?", (days_ago(keep_days),)).rowcount
            sqlite_visits.purge_before(connection, None if keep_days == 0 else days_ago(keep_days))
        self.checkpoint()
        return removed

    def door_log(self, limit: int = 50, identity: str | None = None) -> list[DoorEvent]:
        """The last ``limit`` door events, newest first (empty when nothing was logged yet).

        Args:
            limit: at most this many events (0 to 1,000,000,000).
            identity: only this person's events (default: everyone's and the strangers').
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_LIMIT:
            raise InvalidArgument(f"limit must be an integer from 0 to {MAX_LIMIT:,}, got {limit!r}")
        if not self._has_table("door_log"):
            return []
        where, params = ("WHERE identity = ? ", (normalise_name(identity),)) if identity is not None else ("", ())
        door = sqlite_door_log.door_column(self._query)  # NULL in a read-only file of schema version 1
        rows = self._query(f"SELECT time, identity, distance, admitted, source, {door} FROM door_log {where}"
                           "ORDER BY id DESC LIMIT ?", (*params, limit))
        return [DoorEvent(time, identity, distance, bool(admitted), source, name)
                for time, identity, distance, admitted, source, name in rows]

    def export_person(self, name: str) -> tuple[dict, bytes | None]:
        """Everything stored about one person, for a person who asks what is kept about them.

        Returns:
            ``(record, thumbnail)``: ``record`` is JSON-ready: ``name``, ``enrolled`` (UTC ISO 8601),
            ``encoder``, ``faces`` (each ``id, source, sha256, box, added, encoding``: 128 floats, or the
            database's :attr:`encoding_size`), and
            ``door_log`` (their events, newest first), ``visits`` (the visits decided as them or assigned to them,
            newest first; their crops: :meth:`visit_crop`); ``thumbnail`` is their picture's JPEG bytes or None.

        Raises:
            UnknownIdentity: ``name`` is not enrolled.
        """
        person = self.person_id(name)
        stored, created = self._query("SELECT name, created FROM people WHERE id = ?", (person,))[0]
        encodings, _ = self.encodings(stored)
        faces = [{**{k: v for k, v in face.items() if k != "name"}, "encoding": [float(x) for x in vector]}
                 for face, vector in zip(self.faces(stored), encodings)]
        record = {"name": stored, "enrolled": created, "encoder": self.encoder_name, "faces": faces,
                  "door_log": [event.to_json() for event in self.door_log(MAX_LIMIT, identity=stored)],
                  "visits": self._visits_sql.of_person(self._query, stored),
                  "exported": now_utc()}
        return record, self.thumbnail(stored)

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


def insert_face(connection: sqlite3.Connection, person: int, record: FaceRecord, blob: bytes) -> bool:
    """Inside a write: store one face of ``person`` (False: they have that photo, same SHA-256, already).

    Called through :meth:`FaceDatabase._insert_face <facerec.database.FaceDatabase._insert_face>`."""
    cursor = connection.execute(
        "INSERT OR IGNORE INTO faces (person_id, encoding, source, sha256, box_left, box_top, box_right, "
        "box_bottom, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (person, blob, record.source, record.sha256, *[int(v) for v in record.box], now_utc()))
    return cursor.rowcount == 1


def _can_write(path: Path) -> bool:
    """Whether this process may write ``path`` (or create it) and the files beside it (``-wal``, ``-shm``)."""
    folder = path.parent if str(path.parent) else Path(".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if path.exists() and not os.access(path, os.W_OK):
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _disk_is_full(path: Path) -> bool:
    """Whether the disk of ``path`` (or of its nearest existing folder) has less than :data:`MIN_FREE_BYTES` free."""
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES


def _read_only_reason(path: Path) -> str:
    """Say why ``path`` cannot be written: a full disk, a read-only disk, the file or its folder."""
    if _disk_is_full(path):
        return "the disk is full; free some space and try again"
    try:
        if os.statvfs(path if path.exists() else path.parent).f_flag & os.ST_RDONLY:
            return "its disk is mounted read-only"
    except OSError:
        pass
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only for this user"
    return "its folder is read-only for this user (SQLite also writes -wal and -shm files beside it)"


def _make_private_folders(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each 0700 (existing ones are left as they are)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
