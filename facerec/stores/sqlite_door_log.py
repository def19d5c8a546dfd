"""The door's name in SQLite's door log, and the schema migration that added it (schema version 1 -> 2).

Version 2 adds ``door_log.door`` and ``visits.door`` (TEXT, nullable): the name of the door that logged the row
(``--door-name``, ``$FACEREC_DOOR``; ``""`` when the door has none), as PostgreSQL's tables have it, so
``facerec migrate`` keeps it both ways. Rows logged before the upgrade have NULL there (their door is not known).

A version-1 file opened writable is upgraded by :func:`upgrade` in one write transaction (the column added if the
log exists, the version set to 2); a read-only version-1 file is read as it is (:func:`door_column` then says
``NULL``). :class:`facerec.stores.sqlite.SqliteFaceDatabase` calls these functions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

UPGRADABLE_VERSIONS = ("1",)  # schema versions this module upgrades to facerec.stores.sqlite.SCHEMA_VERSION

Query = Callable[..., list[tuple]]


def has_door(query: Query) -> bool:
    """Whether the file's door log has the ``door`` column (False without a door log)."""
    return any(row[1] == "door" for row in query("PRAGMA table_info(door_log)"))


def door_column(query: Query) -> str:
    """The door-log select expression for the door's name: ``door``, or ``NULL`` in a read-only version-1 file."""
    return "door" if has_door(query) else "NULL"


def upgrade(connection: sqlite3.Connection, version: str) -> None:
    """Inside a write transaction: bring a version-1 file to ``version`` (idempotent: another process may have
    upgraded it meanwhile)."""
    for table in ("door_log", "visits"):  # the visits' door too (facerec.stores.sqlite_visits)
        columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if columns and "door" not in columns:
            connection.execute(f"ALTER TABLE {table} ADD COLUMN door TEXT")
    connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
