"""``facerec migrate``: copy a whole face database between engines (SQLite file <-> PostgreSQL URL), checked.

The copy reads every table of the source (:data:`TABLES`, rows in id order, ids kept), writes them into an
empty target in one transaction (so a failed copy leaves the target as it was), then reads the target back and
compares each table's row count and fingerprint (SHA-256 of its rows, :func:`fingerprints`) with the source's.

Everything crosses: people, faces, pictures, the door log with each row's door name, the access keys, the
door's visits with their crops, encodings and reviews, the known strangers, and the photo library (photos,
contents, faces with their groups and names, "not X" rules: :data:`facerec.stores.sqlite_library.DUMP`), ids
kept. What does not: the engine's own bookkeeping (``schema_version``, PostgreSQL's ``application``,
``generation`` and ``removals`` meta rows, the offline queue's idempotency keys). A door name that is not known
(NULL: an SQLite row logged before schema version 2) is compared and copied as "" (PostgreSQL's "no name").
"""

from __future__ import annotations

import hashlib
import json

from facerec.exceptions import InvalidArgument

TABLES = ("meta", "people", "faces", "thumbnails", "door_log", "access_keys", "visits", "known_strangers",
          "library_contents", "library_photos", "library_faces", "library_not")
DOOR_COLUMN = {"door_log": 5, "visits": 10}  # where each table's row holds the door's name
ENGINE_META = ("schema_version", "application", "generation", "removals")  # each engine keeps its own
Tables = dict[str, list[tuple]]


def read_tables(db) -> Tables:
    """Every row of ``db`` (either engine), meta without :data:`ENGINE_META`."""
    if _is_postgres(db):
        tables = db.read_tables()
    else:
        from facerec.stores.sqlite_dump import read_tables as read_sqlite

        tables = read_sqlite(db)
    tables["meta"] = [row for row in tables["meta"] if row[0] not in ENGINE_META]
    return tables


def fingerprints(tables: Tables) -> dict[str, dict]:
    """``{table: {"rows": count, "sha256": hex}}``: the digest of each row's JSON (bytes as hex; no door name: "")."""
    result = {}
    for table in TABLES:
        digest = hashlib.sha256()
        for row in tables[table]:
            if table in DOOR_COLUMN:
                row = (*row[:DOOR_COLUMN[table]], row[DOOR_COLUMN[table]] or "", *row[DOOR_COLUMN[table] + 1:])
            digest.update(json.dumps([v.hex() if isinstance(v, bytes) else v for v in row]).encode() + b"\n")
        result[table] = {"rows": len(tables[table]), "sha256": digest.hexdigest()}
    return result


def migrate(source_location, target_location) -> dict:
    """Copy the database at ``source_location`` into the empty one at ``target_location`` and check the copy.

    Args:
        source_location, target_location: an SQLite path or a ``postgresql://`` URL each.

    Returns:
        ``{"from", "to", "tables": {table: {"rows", "sha256"}}, "door_names_dropped": 0}`` (locations printable;
        no engine drops door names since SQLite's schema version 2, the field stays for scripts).

    Raises:
        InvalidArgument: the target holds people, faces, door-log rows or keys already (nothing is overwritten).
        DatabaseError: the copy read back differs from the source (the target keeps the copy to be examined).
    """
    from facerec.database import FaceDatabase
    from facerec.exceptions import DatabaseError

    with FaceDatabase(source_location, create=False, read_only=not _is_url(source_location)) as source:
        tables = read_tables(source)
        expected = fingerprints(tables)
    with FaceDatabase(target_location, create=True) as target:
        present = read_tables(target)
        if any(present[table] for table in TABLES if table != "meta"):
            raise InvalidArgument(f"{target.path} is not empty ({_counts(present)}); migrate only into an empty "
                                  "database (a new file, or CREATE DATABASE ...) so nothing is overwritten")
        if _is_postgres(target):
            target.write_tables(tables)
        else:
            from facerec.stores.sqlite_dump import write_tables

            write_tables(target, tables)
        copied = fingerprints(read_tables(target))
        if copied != expected:
            differ = [table for table in TABLES if copied[table] != expected[table]]
            raise DatabaseError(f"the copy in {target.path} differs from {source.path} in {', '.join(differ)}; "
                                "do not use it (drop it and run the migration again)")
        return {"from": str(source.path), "to": str(target.path), "tables": copied, "door_names_dropped": 0}


def _counts(tables: Tables) -> str:
    return ", ".join(f"{len(tables[t])} {t} row(s)" for t in TABLES if t != "meta" and tables[t])


def _is_postgres(db) -> bool:
    return hasattr(db, "read_tables")


def _is_url(location) -> bool:
    from facerec.stores.base import is_url

    return is_url(location)
