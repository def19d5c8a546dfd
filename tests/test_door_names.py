"""The door's name in every door log (issue 25 follow-up): SQLite's log keeps it too (schema version 2), an old
file is upgraded in a write transaction (or read as it is when it cannot be written), and ``facerec log`` and
``GET /api/log`` show it as ``door``.
"""

from __future__ import annotations

import json
import sqlite3

from fastapi.testclient import TestClient

from facerec.cli import main
from facerec.database import SCHEMA_VERSION, DoorEvent, FaceDatabase, now_utc


def event(who: str | None = None) -> DoorEvent:
    return DoorEvent(now_utc(), who, 0.9, False, "cam.jpg")


def version_1_file(path) -> None:
    """A file as facerec wrote it before door names (schema version 1): one logged row, no ``door`` column."""
    with FaceDatabase(path, door="front") as db:
        db.log_events([event()])
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE door_log DROP COLUMN door")
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def schema(path) -> tuple[str, list[str]]:
    with sqlite3.connect(path) as connection:
        version = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        return version, [row[1] for row in connection.execute("PRAGMA table_info(door_log)")]


def test_a_new_sqlite_log_keeps_each_rows_door_name(tmp_path):
    path = tmp_path / "faces.sqlite"
    with FaceDatabase(path, door="front") as front, FaceDatabase(path, door="back") as back:
        front.log_events([event()])
        back.log_events([event()])
        assert [e.door for e in front.door_log()] == ["back", "front"]
    assert schema(path) == (str(SCHEMA_VERSION), ["id", "time", "identity", "distance", "admitted", "source", "door"])
    with FaceDatabase(path) as unnamed:
        unnamed.log_events([event()])
        assert unnamed.door_log(1)[0].door == "" and unnamed.door_log(1)[0].to_json()["door"] is None


def test_an_old_file_is_upgraded_when_opened_writable_and_its_rows_keep_no_name(tmp_path):
    path = tmp_path / "faces.sqlite"
    version_1_file(path)
    assert schema(path) == ("1", ["id", "time", "identity", "distance", "admitted", "source"])
    with FaceDatabase(path, read_only=True) as old:  # read-only: read as it is, not upgraded
        assert [e.door for e in old.door_log()] == [None]
    assert schema(path)[0] == "1"
    with FaceDatabase(path, door="back") as db:
        assert schema(path) == ("2", ["id", "time", "identity", "distance", "admitted", "source", "door"])
        db.log_events([event()])
        assert [e.door for e in db.door_log()] == ["back", None]


def test_the_log_command_and_the_api_show_the_door(tmp_path, capsys, monkeypatch):
    path = tmp_path / "faces.sqlite"
    monkeypatch.setenv("FACEREC_DOOR", "reception")
    with FaceDatabase(path) as db:
        db.log_events([event()])
    assert main(["--db", str(path), "log", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["door"] == "reception"
    assert main(["--db", str(path), "log"]) == 0
    assert "door name" in capsys.readouterr().out
    from facerec.server.app import create_app

    with TestClient(create_app(path)) as client:
        assert client.get("/api/log").json()[0]["door"] == "reception"
