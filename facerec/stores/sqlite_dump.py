"""Whole tables of an SQLite face database, read and written for ``facerec migrate`` (:mod:`facerec.stores.dump`)."""

from __future__ import annotations

from facerec.stores.dump import TABLES, Tables


def read_tables(db) -> Tables:
    """Every row of every table of ``db`` (a :class:`~facerec.stores.sqlite.SqliteFaceDatabase`), in id order.

    The rows are those of :data:`facerec.stores.dump.TABLES` (a door name not known: None).
    """
    from facerec.stores import sqlite_door_log, sqlite_library, sqlite_visits

    def rows(table: str, sql: str) -> list[tuple]:
        return [tuple(row) for row in db._query(sql)] if db._has_table(table) else []

    return {
        "meta": rows("meta", "SELECT key, value FROM meta ORDER BY key"),
        "people": rows("people", "SELECT id, name, created FROM people ORDER BY id"),
        "faces": [(*r[:2], bytes(r[2]), *r[3:]) for r in rows(
            "faces", "SELECT id, person_id, encoding, source, sha256, box_left, box_top, box_right, box_bottom, added "
                     "FROM faces ORDER BY id")],
        "thumbnails": [(r[0], bytes(r[1])) for r in rows("thumbnails", "SELECT person_id, jpeg FROM thumbnails "
                                                                       "ORDER BY person_id")],
        "door_log": [(t, i, d, bool(a), s, door) for t, i, d, a, s, door in rows(
            "door_log", f"SELECT time, identity, distance, admitted, source, {sqlite_door_log.door_column(db._query)} "
                        "FROM door_log ORDER BY id")],
        "access_keys": rows("access_keys", "SELECT name, role, sha256, created, last_used FROM access_keys "
                                           "ORDER BY name"),
        **sqlite_visits.read_rows(db._query),
        **sqlite_library.read_rows(db),
    }


def write_tables(db, tables: Tables) -> None:
    """Write ``tables`` into the empty SQLite database ``db`` in one transaction (ids kept)."""
    from facerec.stores import sqlite_library, sqlite_visits
    from facerec.stores.sqlite import _ACCESS_KEYS, _DOOR_LOG, _THUMBNAILS
    from facerec.stores.widths import blocks_of_meta

    assert set(tables) == set(TABLES)
    db._pending_blocks = blocks_of_meta(tables["meta"])  # a wide database's faces table is made that wide
    with db._transaction() as connection:
        for statement in (_DOOR_LOG, _THUMBNAILS, _ACCESS_KEYS):
            connection.execute(statement)
        connection.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", tables["meta"])
        connection.executemany("INSERT INTO people (id, name, created) VALUES (?, ?, ?)", tables["people"])
        connection.executemany("INSERT INTO faces (id, person_id, encoding, source, sha256, box_left, box_top, "
                               "box_right, box_bottom, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tables["faces"])
        connection.executemany("INSERT INTO thumbnails VALUES (?, ?)", tables["thumbnails"])
        connection.executemany("INSERT INTO door_log (time, identity, distance, admitted, source, door) VALUES "
                               "(?, ?, ?, ?, ?, ?)", [(t, i, d, int(a), s, door)
                                                      for t, i, d, a, s, door in tables["door_log"]])
        connection.executemany("INSERT INTO access_keys VALUES (?, ?, ?, ?, ?)", tables["access_keys"])
        sqlite_visits.write_rows(connection, tables)
        sqlite_library.write_rows(connection, tables)
