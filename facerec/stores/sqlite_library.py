"""The photo library's tables in a facerec SQLite database (``facerec index``, ``cluster``, ``name``...).

Tables (created by the first library write, in its transaction, like ``door_log``):

* ``library_photos(id, path UNIQUE, size, mtime, sha256)``: every indexed photo file: its absolute path,
  size in bytes, modification time (POSIX seconds) and the SHA-256 of its bytes.
* ``library_contents(sha256 PRIMARY KEY, width, height, indexed)``: each distinct photo content, encoded
  once however many files hold it; ``width``/``height`` in pixels as loaded (EXIF-rotated).
* ``library_faces(id, sha256, box_left, box_top, box_right, box_bottom, encoding, quality, group_id,
  person_id)``: every face of every content: box in pixels, 128 little-endian float32, ``quality`` the
  detector's confidence (higher is surer), ``group_id`` its unnamed group (NULL: not grouped yet),
  ``person_id`` the person it was named as (NULL: nobody).
* ``library_not(face_id, person_id)``: "this face is not that person" rules.

Every function takes the :class:`~facerec.stores.sqlite.SqliteFaceDatabase` and writes through its ``_transaction()``
(one ``BEGIN IMMEDIATE`` each) and reads through its ``_query()``. Its PostgreSQL twin, with the same functions, is
:mod:`facerec.stores.postgres_library`; :mod:`facerec.library` reaches either through ``db.library_sql``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS library_contents (
    sha256 TEXT PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL, indexed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS library_photos (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, mtime REAL NOT NULL,
    sha256 TEXT NOT NULL REFERENCES library_contents(sha256));
CREATE INDEX IF NOT EXISTS library_photos_sha ON library_photos(sha256);
CREATE TABLE IF NOT EXISTS library_faces (
    id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES library_contents(sha256) ON DELETE CASCADE,
    box_left INTEGER NOT NULL, box_top INTEGER NOT NULL, box_right INTEGER NOT NULL, box_bottom INTEGER NOT NULL,
    encoding BLOB NOT NULL CHECK (length(encoding) = 512), quality REAL NOT NULL,
    group_id INTEGER, person_id INTEGER REFERENCES people(id) ON DELETE SET NULL);
CREATE INDEX IF NOT EXISTS library_faces_sha ON library_faces(sha256);
CREATE INDEX IF NOT EXISTS library_faces_group ON library_faces(group_id);
CREATE INDEX IF NOT EXISTS library_faces_person ON library_faces(person_id);
CREATE TABLE IF NOT EXISTS library_not (
    face_id INTEGER NOT NULL REFERENCES library_faces(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE, PRIMARY KEY (face_id, person_id));
"""
_DTYPE = np.dtype("<f4")
_CHUNK = 5_000  # ids per "IN (...)" (SQLite's limit on bound parameters is 32,766)


@dataclass(frozen=True)
class PhotoState:
    """What the library knows of a photo file: size (bytes), mtime (POSIX s), content SHA-256."""

    size: int
    mtime: float
    sha256: str


@dataclass(frozen=True)
class EncodedContent:
    """One photo content's faces, as a worker found them.

    Attributes:
        sha256: hex SHA-256 of the photo's bytes.
        width, height: pixels as loaded.
        boxes: ``(F, 4)`` int ``(left, top, right, bottom)``.
        encodings: ``(F, 128)`` float32.
        qualities: ``(F,)`` detector confidences.
    """

    sha256: str
    width: int
    height: int
    boxes: np.ndarray
    encodings: np.ndarray
    qualities: np.ndarray


@dataclass(frozen=True)
class LibraryFaces:
    """Faces of the library with their encodings (rows in face-id order).

    Attributes:
        ids: ``(N,)`` face ids.
        encodings: ``(N, 128)`` float32.
        groups: ``(N,)`` group ids, -1 where not grouped.
        people: ``(N,)`` person ids, -1 where not named.
    """

    ids: np.ndarray
    encodings: np.ndarray
    groups: np.ndarray
    people: np.ndarray


def check_supported(db) -> None:
    """Refuse a database the library cannot hold yet: one of encodings wider than 128 floats (either engine).

    Not a storage limit: the library groups and matches by plain L2 distance at thresholds measured on dlib's
    128-d encodings (MODEL_CARD.md "Photo library"), while a 640-d ``dlib+facenet`` encoding's distance is a sum
    of per-block L2 distances (:mod:`facerec.distances`) on another scale, which no grouping threshold was
    measured for.

    Raises:
        InvalidArgument: saying so and what to use instead.
    """
    from facerec.exceptions import InvalidArgument

    if getattr(db, "encoding_size", 128) != 128:
        raise InvalidArgument(f"the photo library holds 128-float encodings; this database's encoder "
                              f"({db.encoder_name}) makes {db.encoding_size}; index into a dlib or nn4 database")


def create(connection: sqlite3.Connection) -> None:
    """Inside a write transaction: the library's tables, if missing."""
    for statement in _SCHEMA.strip().split(";\n"):
        if statement.strip():
            connection.execute(statement)


def exists(db) -> bool:
    """Whether the database has library tables (anything was ever indexed)."""
    return db._has_table("library_faces")


def photo_states(db) -> dict[str, PhotoState]:
    """``{path: PhotoState}`` of every indexed photo."""
    if not exists(db):
        return {}
    return {row[0]: PhotoState(*row[1:]) for row in db._query("SELECT path, size, mtime, sha256 FROM library_photos")}


def known_contents(db) -> set[str]:
    """The SHA-256 of every content already encoded."""
    if not exists(db):
        return set()
    return {row[0] for row in db._query("SELECT sha256 FROM library_contents")}


def save(db, photos: Sequence[tuple[str, PhotoState]], contents: Sequence[EncodedContent], when: str,
         model: tuple[str, str]) -> None:
    """Store encoded contents and the photo files that hold them, in one transaction.

    Args:
        photos: ``(path, state)`` of files new or changed; their content is in ``contents`` or stored already.
        contents: newly encoded contents.
        when: UTC ISO 8601 time of indexing.
        model: ``(encoder name, weights fingerprint)`` that made the encodings, recorded in ``meta`` if the
            database has none yet (the caller checked that they match the database's).
    """
    check_supported(db)
    with db._transaction() as connection:
        create(connection)
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('encoder', ?)", (model[0],))
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('model_fingerprint', ?)", (model[1],))
        for content in contents:
            cursor = connection.execute("INSERT OR IGNORE INTO library_contents VALUES (?, ?, ?, ?)",
                                        (content.sha256, int(content.width), int(content.height), when))
            if cursor.rowcount != 1:
                continue  # another run stored it first
            connection.executemany(
                "INSERT INTO library_faces (sha256, box_left, box_top, box_right, box_bottom, encoding, quality) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(content.sha256, *[int(v) for v in box], np.asarray(vector, _DTYPE).tobytes(), float(quality))
                 for box, vector, quality in zip(content.boxes, content.encodings, content.qualities)])
        connection.executemany(
            "INSERT INTO library_photos (path, size, mtime, sha256) VALUES (?, ?, ?, ?) ON CONFLICT(path) DO "
            "UPDATE SET size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256",
            [(path, state.size, state.mtime, state.sha256) for path, state in photos])
        _drop_orphans(connection)


def forget(db, paths: Iterable[str]) -> int:
    """Remove photo files from the library (and the faces of contents no file holds any more); returns how many."""
    paths = list(paths)
    if not paths or not exists(db):
        return 0
    with db._transaction() as connection:
        removed = sum(connection.execute("DELETE FROM library_photos WHERE path = ?", (path,)).rowcount
                      for path in paths)
        _drop_orphans(connection)
    return removed


def _drop_orphans(connection: sqlite3.Connection) -> None:
    """Delete contents (and their faces, by cascade) that no photo file holds any more."""
    connection.execute("DELETE FROM library_contents WHERE sha256 NOT IN (SELECT sha256 FROM library_photos)")


def counts(db) -> dict[str, int]:
    """``{"photos", "contents", "faces", "named", "grouped"}`` counts."""
    if not exists(db):
        return {"photos": 0, "contents": 0, "faces": 0, "named": 0, "grouped": 0}
    row = db._query("SELECT (SELECT count(*) FROM library_photos), (SELECT count(*) FROM library_contents), "
                    "count(*), count(person_id), count(group_id) FROM library_faces")[0]
    return dict(zip(("photos", "contents", "faces", "named", "grouped"), row))


def faces(db, unnamed_only: bool = False) -> LibraryFaces:
    """Every library face (or only the unnamed ones) with its encoding, group and person."""
    if not exists(db):
        return LibraryFaces(np.zeros(0, np.int64), np.zeros((0, 128), np.float32), np.zeros(0, np.int64),
                            np.zeros(0, np.int64))
    where = " WHERE person_id IS NULL" if unnamed_only else ""
    rows = db._query(f"SELECT id, encoding, coalesce(group_id, -1), coalesce(person_id, -1) FROM library_faces"
                     f"{where} ORDER BY id")
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=_DTYPE).reshape(len(rows), 128).astype(np.float32)
    return LibraryFaces(np.array([r[0] for r in rows], np.int64), matrix,
                        np.array([r[2] for r in rows], np.int64), np.array([r[3] for r in rows], np.int64))


def face_rows(db, face_ids: Sequence[int] | None = None, group: int | None = None,
              person: int | None = None) -> list[dict]:
    """Faces with one photo path each: ``{"id", "photo", "box", "group", "person_id", "quality"}``, by face id.

    Args:
        face_ids: only these faces; group: only this group's; person: only this person's (default all).
    """
    if not exists(db):
        return []
    if face_ids is not None and len(face_ids) > _CHUNK:
        return [row for start in range(0, len(face_ids), _CHUNK)
                for row in face_rows(db, face_ids[start:start + _CHUNK], group, person)]
    sql = ("SELECT f.id, (SELECT min(p.path) FROM library_photos p WHERE p.sha256 = f.sha256), f.box_left, f.box_top, "
           "f.box_right, f.box_bottom, f.group_id, f.person_id, f.quality FROM library_faces f")
    clauses, params = [], []
    if face_ids is not None:
        clauses.append(f"f.id IN ({','.join('?' * len(face_ids))})")
        params.extend(int(i) for i in face_ids)
    if group is not None:
        clauses.append("f.group_id = ?")
        params.append(int(group))
    if person is not None:
        clauses.append("f.person_id = ?")
        params.append(int(person))
    rows = db._query(sql + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY f.id", tuple(params))
    return [{"id": r[0], "photo": r[1], "box": list(r[2:6]), "group": r[6], "person_id": r[7], "quality": r[8]}
            for r in rows]


def photo_paths(db, sha256: str) -> list[str]:
    """Every indexed path holding this content, sorted."""
    return [r[0] for r in db._query("SELECT path FROM library_photos WHERE sha256 = ? ORDER BY path", (sha256,))]


def faces_of_photo(db, path: str) -> list[int]:
    """Face ids of the photo file at ``path`` (empty when it is not indexed)."""
    if not exists(db):
        return []
    return [r[0] for r in db._query("SELECT f.id FROM library_faces f JOIN library_photos p ON p.sha256 = f.sha256 "
                                    "WHERE p.path = ? ORDER BY f.id", (path,))]


def set_groups(db, assignment: dict[int, int | None]) -> None:
    """Set ``{face id: group id or None}`` in one transaction."""
    with db._transaction() as connection:
        create(connection)
        connection.executemany("UPDATE library_faces SET group_id = ? WHERE id = ?",
                               [(None if g is None else int(g), int(f)) for f, g in assignment.items()])


def next_group(db) -> int:
    """A group id no face has yet."""
    if not exists(db):
        return 1
    return int(db._query("SELECT coalesce(max(group_id), 0) + 1 FROM library_faces")[0][0])


def mark_named(connection: sqlite3.Connection, face_ids: Sequence[int], name: str) -> None:
    """Inside the write transaction that enrolled them: these faces are ``name``'s now (and in no group)."""
    person = connection.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()[0]
    connection.executemany("UPDATE library_faces SET person_id = ?, group_id = NULL WHERE id = ?",
                           [(int(person), int(f)) for f in face_ids])


def add_not(db, face_id: int, person: int) -> None:
    """Record "face ``face_id`` is not ``person``"; a face named so loses that name and its enrolled encoding."""
    with db._transaction() as connection:
        create(connection)
        connection.execute("INSERT OR IGNORE INTO library_not VALUES (?, ?)", (int(face_id), int(person)))
        row = connection.execute("SELECT sha256, encoding FROM library_faces WHERE id = ? AND person_id = ?",
                                 (int(face_id), int(person))).fetchone()
        if row is not None:
            connection.execute("DELETE FROM faces WHERE person_id = ? AND sha256 = ? AND encoding = ?",
                               (int(person), row[0], row[1]))
            connection.execute("UPDATE library_faces SET person_id = NULL, group_id = NULL WHERE id = ?",
                               (int(face_id),))


def not_rules(db) -> set[tuple[int, int]]:
    """Every ``(face id, person id)`` "not" rule."""
    if not exists(db):
        return set()
    return {(r[0], r[1]) for r in db._query("SELECT face_id, person_id FROM library_not")}


def face_exists(db, face_id: int) -> bool:
    """Whether a library face has this id."""
    return exists(db) and bool(db._query("SELECT 1 FROM library_faces WHERE id = ?", (int(face_id),)))


def face_details(db, face_ids: Sequence[int]) -> list[tuple[int, str, str, tuple[int, int, int, int], np.ndarray]]:
    """``(face id, content sha256, one photo path, box, encoding)`` of each face, by face id."""
    if not face_ids or not exists(db):
        return []
    if len(face_ids) > _CHUNK:
        return [row for start in range(0, len(face_ids), _CHUNK)
                for row in face_details(db, face_ids[start:start + _CHUNK])]
    rows = db._query(
        "SELECT f.id, f.sha256, (SELECT min(p.path) FROM library_photos p WHERE p.sha256 = f.sha256), f.box_left, "
        f"f.box_top, f.box_right, f.box_bottom, f.encoding FROM library_faces f WHERE f.id IN "
        f"({','.join('?' * len(face_ids))}) ORDER BY f.id", tuple(int(i) for i in face_ids))
    return [(r[0], r[1], r[2], tuple(r[3:7]), np.frombuffer(r[7], _DTYPE).astype(np.float32)) for r in rows]


def photos_of_faces(db, face_ids: Sequence[int]) -> dict[int, list[str]]:
    """``{face id: every indexed path holding its photo}``."""
    if not face_ids or not exists(db):
        return {}
    if len(face_ids) > _CHUNK:
        found = {}
        for start in range(0, len(face_ids), _CHUNK):
            found.update(photos_of_faces(db, face_ids[start:start + _CHUNK]))
        return found
    rows = db._query(f"SELECT f.id, p.path FROM library_faces f JOIN library_photos p ON p.sha256 = f.sha256 "
                     f"WHERE f.id IN ({','.join('?' * len(face_ids))}) ORDER BY p.path",
                     tuple(int(i) for i in face_ids))
    found: dict[int, list[str]] = {}
    for face, path in rows:
        found.setdefault(face, []).append(path)
    return found


# -- whole tables, for facerec migrate (facerec.stores.dump) -------------------------------------------------------

DUMP = {  # table: its columns as facerec migrate copies them (rows in this order on both engines)
    "library_contents": ("sha256, width, height, indexed", "sha256"),
    "library_photos": ("id, path, size, mtime, sha256", "id"),
    "library_faces": ("id, sha256, box_left, box_top, box_right, box_bottom, encoding, quality, group_id, person_id",
                      "id"),
    "library_not": ("face_id, person_id", "face_id, person_id"),
}


def read_rows(db) -> dict[str, list[tuple]]:
    """Every row of the library's tables (:data:`DUMP`'s columns and order; encodings bytes, mtime a float)."""
    if not exists(db):
        return {table: [] for table in DUMP}
    tables = {table: [tuple(row) for row in db._query(f"SELECT {columns} FROM {table} ORDER BY {order}")]
              for table, (columns, order) in DUMP.items()}
    tables["library_photos"] = [(*r[:3], float(r[3]), r[4]) for r in tables["library_photos"]]
    tables["library_faces"] = [(*r[:6], bytes(r[6]), float(r[7]), *r[8:]) for r in tables["library_faces"]]
    return tables


def write_rows(connection: sqlite3.Connection, tables: dict[str, list[tuple]]) -> None:
    """Insert :func:`read_rows`' rows (ids kept), creating the tables only when there are rows to hold."""
    if not any(tables[table] for table in DUMP):
        return
    create(connection)
    for table, (columns, _) in DUMP.items():
        marks = ", ".join("?" * len(columns.split(", ")))
        connection.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tables[table])
