"""The visits of the door in SQLite: each visit's decision, its best crop, and the known strangers.

Tables (created when first written, like the door log, so older databases still open):

* ``visits(id, start, identity, data, crop, encoding, fingerprint, assigned, stranger, reviewed, door)``:
  ``id`` is the visit's id everywhere (``door --json``'s ``visit``, ``facerec visits``, ``/api/visits``),
  never reused (``AUTOINCREMENT``); ``start`` (UTC ISO 8601) is what the retention compares; ``identity``
  the decision (NULL: unknown); ``data`` the rest of the visit's JSON object; ``crop`` a small JPEG of the
  best frame's face; ``encoding`` that face's encoding (little-endian float32: 128, or the database's width,
  :mod:`facerec.stores.widths`; a table made before wider encoders checks 512 bytes) and ``fingerprint``
  the weights that made it; ``assigned`` / ``stranger`` / ``reviewed`` what an admin said it was; ``door`` the
  name of the door that logged it (schema version 2, :mod:`facerec.stores.sqlite_door_log`; NULL before).
* ``known_strangers(id, encoding, fingerprint, visit, added)``: encodings of faces an admin said are
  "not anyone we know" (kept after their visit is deleted: the admin chose to keep them).

The functions take an open connection inside the caller's transaction (writes) or a read function
``query(sql, params) -> rows`` (reads); :class:`facerec.database.FaceDatabase`'s visits methods call them on the
SQLite engine (:class:`facerec.stores.sqlite.SqliteFaceDatabase`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

Query = Callable[..., list[tuple]]

VISITS = """CREATE TABLE IF NOT EXISTS visits (
    id INTEGER PRIMARY KEY AUTOINCREMENT, start TEXT NOT NULL, identity TEXT, data TEXT NOT NULL, crop BLOB,
    encoding BLOB CHECK (encoding IS NULL OR (length(encoding) > 0 AND length(encoding) % 4 = 0)),
    fingerprint TEXT, assigned TEXT, stranger INTEGER NOT NULL DEFAULT 0, reviewed TEXT, door TEXT)"""
VISITS_INDEX = "CREATE INDEX IF NOT EXISTS visits_start ON visits(start)"
STRANGERS = """CREATE TABLE IF NOT EXISTS known_strangers (
    id INTEGER PRIMARY KEY, encoding BLOB NOT NULL CHECK (length(encoding) > 0 AND length(encoding) % 4 = 0),
    fingerprint TEXT, visit INTEGER, added TEXT NOT NULL)"""
_COLUMNS = "id, start, identity, data, crop IS NOT NULL, assigned, stranger, reviewed"


@dataclass(frozen=True)
class VisitRecord:
    """A visit to store: its JSON object (``start``, ``identity`` ... as ``door --json`` prints them; ``visit``
    is replaced by the row's id), the best crop (JPEG bytes or None), its encoding blob and the weights'
    fingerprint."""

    line: dict
    crop: bytes | None
    encoding: bytes | None
    fingerprint: str | None


def create(connection: sqlite3.Connection) -> None:
    """The visit tables (inside a write transaction)."""
    connection.execute(VISITS)
    connection.execute(VISITS_INDEX)
    connection.execute(STRANGERS)


def has_visits(query: Query) -> bool:
    return bool(query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'visits'"))


def insert(connection: sqlite3.Connection, record: VisitRecord, door: str = "") -> int:
    """Store one visit logged by the door named ``door``; returns its id."""
    create(connection)
    data = {key: value for key, value in record.line.items() if key != "visit"}
    cursor = connection.execute(
        "INSERT INTO visits (start, identity, data, crop, encoding, fingerprint, door) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (data["start"], data.get("identity"), json.dumps(data), record.crop, record.encoding, record.fingerprint,
         door))
    return int(cursor.lastrowid)


def purge_before(connection: sqlite3.Connection, cutoff: str | None) -> int:
    """Delete the visits (and their crops) that started before ``cutoff`` (UTC ISO 8601; None: every visit)."""
    if not connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'visits'").fetchone():
        return 0
    if cutoff is None:
        return connection.execute("DELETE FROM visits").rowcount
    return connection.execute("DELETE FROM visits WHERE start < ?", (cutoff,)).rowcount


def delete_person(connection: sqlite3.Connection, name: str) -> int:
    """Delete the visits decided as ``name`` or assigned to them (with their crops); returns how many."""
    create(connection)
    return connection.execute("DELETE FROM visits WHERE identity = ? OR assigned = ?", (name, name)).rowcount


def row_json(row: tuple) -> dict:
    """A visit's JSON object from its ``_COLUMNS`` row (both engines' rows have this shape)."""
    visit_id, start, identity, data, has_crop, assigned, stranger, reviewed = row
    review = None if reviewed is None else {"name": assigned, "stranger": bool(stranger), "time": reviewed}
    return {"visit": visit_id, **json.loads(data), "start": start, "identity": identity, "crop": bool(has_crop),
            "review": review}


def recent(query: Query, limit: int) -> list[dict]:
    """The last ``limit`` visits, newest first (by start, then id), as JSON objects."""
    if not has_visits(query):
        return []
    rows = query(f"SELECT {_COLUMNS} FROM visits ORDER BY start DESC, id DESC LIMIT ?", (limit,))
    return [row_json(row) for row in rows]


def of_person(query: Query, name: str) -> list[dict]:
    """The visits decided as ``name`` or assigned to them, newest first (for their export)."""
    if not has_visits(query):
        return []
    rows = query(f"SELECT {_COLUMNS} FROM visits WHERE identity = ? OR assigned = ? ORDER BY start DESC, id DESC",
                 (name, name))
    return [row_json(row) for row in rows]


def one(query: Query, visit: int) -> dict | None:
    """One visit's JSON object, or None."""
    if not has_visits(query):
        return None
    rows = query(f"SELECT {_COLUMNS} FROM visits WHERE id = ?", (visit,))
    return row_json(rows[0]) if rows else None


def crop(query: Query, visit: int) -> tuple[bool, bytes | None]:
    """``(found, jpeg)`` of a visit's crop."""
    if not has_visits(query):
        return False, None
    rows = query("SELECT crop FROM visits WHERE id = ?", (visit,))
    return (True, None if rows[0][0] is None else bytes(rows[0][0])) if rows else (False, None)


def face_of(connection: sqlite3.Connection, visit: int) -> tuple[bytes | None, bytes | None, str | None] | None:
    """``(crop, encoding, fingerprint)`` of a visit (inside a transaction), or None when there is no such visit."""
    create(connection)
    row = connection.execute("SELECT crop, encoding, fingerprint FROM visits WHERE id = ?", (visit,)).fetchone()
    if row is None:
        return None
    return (None if row[0] is None else bytes(row[0]), None if row[1] is None else bytes(row[1]), row[2])


def mark_reviewed(connection: sqlite3.Connection, visit: int, name: str | None, time: str) -> None:
    """Record an admin's word on a visit: ``name`` (this is X) or None (not anyone we know)."""
    connection.execute("UPDATE visits SET assigned = ?, stranger = ?, reviewed = ? WHERE id = ?",
                       (name, int(name is None), time, visit))


def add_stranger(connection: sqlite3.Connection, encoding: bytes, fingerprint: str | None, visit: int,
                 time: str) -> int:
    """Keep one known stranger's encoding; returns its id (a visit marked twice is kept once)."""
    create(connection)
    row = connection.execute("SELECT id FROM known_strangers WHERE visit = ?", (visit,)).fetchone()
    if row is not None:
        return int(row[0])
    cursor = connection.execute("INSERT INTO known_strangers (encoding, fingerprint, visit, added) VALUES (?, ?, ?, ?)",
                                (encoding, fingerprint, visit, time))
    return int(cursor.lastrowid)


def strangers(query: Query, fingerprint: str | None) -> list[bytes]:
    """The known strangers' encoding blobs made by the weights ``fingerprint`` (every one when None), by id."""
    if not query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'known_strangers'"):
        return []
    if fingerprint is None:
        return [bytes(row[0]) for row in query("SELECT encoding FROM known_strangers ORDER BY id")]
    rows = query("SELECT encoding FROM known_strangers WHERE fingerprint = ? ORDER BY id", (fingerprint,))
    return [bytes(row[0]) for row in rows]


def forget_strangers(connection: sqlite3.Connection) -> int:
    """Delete every known stranger; returns how many."""
    create(connection)
    return connection.execute("DELETE FROM known_strangers").rowcount


# -- whole tables, for facerec migrate (facerec.stores.dump: the rows of its "visits" and "known_strangers") ----

DUMP_VISITS = "id, start, identity, data, crop, encoding, fingerprint, assigned, stranger, reviewed, door"
DUMP_STRANGERS = "id, encoding, fingerprint, visit, added"


def read_rows(query: Query) -> dict[str, list[tuple]]:
    """Every visit and known stranger, in id order (``stranger`` a bool, blobs bytes, a missing door "")."""
    def blob(value):
        return None if value is None else bytes(value)

    if not has_visits(query):
        return {"visits": [], "known_strangers": []}
    door = "door" if any(row[1] == "door" for row in query("PRAGMA table_info(visits)")) else "NULL"  # version 1
    columns = DUMP_VISITS.replace(", door", f", {door}")
    visits = [(*r[:4], blob(r[4]), blob(r[5]), r[6], r[7], bool(r[8]), r[9], r[10] or "")
              for r in query(f"SELECT {columns} FROM visits ORDER BY id")]
    strangers = [(r[0], bytes(r[1]), *r[2:]) for r in query(f"SELECT {DUMP_STRANGERS} FROM known_strangers "
                                                             "ORDER BY id")]
    return {"visits": visits, "known_strangers": strangers}


def write_rows(connection: sqlite3.Connection, tables: dict[str, list[tuple]]) -> None:
    """Insert :func:`read_rows`' rows (ids kept: AUTOINCREMENT then continues past the largest)."""
    create(connection)
    connection.executemany(f"INSERT INTO visits ({DUMP_VISITS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(*r[:8], int(r[8]), *r[9:]) for r in tables["visits"]])
    connection.executemany(f"INSERT INTO known_strangers ({DUMP_STRANGERS}) VALUES (?, ?, ?, ?, ?)",
                           tables["known_strangers"])
