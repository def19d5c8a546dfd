"""The command line and the server on a ``postgresql://`` URL: the same commands, never a password printed."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from helpers_issue4 import FINGERPRINT, random_records, weights_or_skip

from facerec.cli import main
from facerec.database import FaceDatabase


@pytest.fixture
def url(postgres) -> str:
    """A new database's URL with a password (the test cluster trusts loopback, so libpq never sends it)."""
    return postgres.url().replace("postgres@", "postgres:Pa55word@")


@pytest.fixture
def run(capsys):
    def runner(*args) -> tuple[int, str, str]:
        code = main([str(arg) for arg in args])
        out, err = capsys.readouterr()
        assert "Pa55word" not in out + err
        return code, out, err

    return runner


def test_keys_and_people_on_a_url_never_print_the_password(run, url, monkeypatch):
    code, out, _ = run("--db", url, "keys", "add", "front", "--role", "door")
    assert code == 0 and "postgres:***@" in out
    assert json.loads(run("--db", url, "keys", "list", "--json")[1])[0]["name"] == "front"
    monkeypatch.setenv("FACEREC_DB", url)
    assert run("keys", "revoke", "front")[0] == 0
    with FaceDatabase(url) as db:
        db.add_faces("kian", random_records(__import__("numpy").random.default_rng(0), 2), FINGERPRINT, "dlib")
    code, out, _ = run("people", "--json")
    assert code == 0 and json.loads(out)[0]["name"] == "kian"


def test_reading_an_empty_url_says_enroll_first(run, url):
    code, _, err = run("--db", url, "people")
    assert code != 0 and "enroll someone first" in err and "postgres:***@" in err


def test_an_unreachable_server_is_one_error_line_exit_1(run, postgres):
    code, _, err = run("--db", f"postgresql://u:Pa55word@127.0.0.1:{postgres.port}/missing_db", "people")
    assert code == 1 and err.startswith("facerec: error: cannot reach the PostgreSQL database")


def test_serve_on_a_url(url, monkeypatch):
    weights_or_skip()
    import uvicorn

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: apps.append(app))
    monkeypatch.delenv("FACEREC_TOKEN", raising=False)
    assert main(["--db", url, "serve"]) == 0
    with FaceDatabase(url) as db:
        db.add_faces("kian", random_records(__import__("numpy").random.default_rng(0), 1), FINGERPRINT, "dlib")
    with TestClient(apps[-1]) as client:
        health = client.get("/api/health").json()
        assert health["status"] == "ok" and health["people"] == 1
        assert client.get("/api/people").json() == [{"name": "kian", "faces": 1}]


def _fill(location) -> None:
    import numpy as np

    from facerec.database import DoorEvent, FaceRecord, now_utc

    rng = np.random.default_rng(7)
    with FaceDatabase(location) as db:
        records = random_records(rng, 3)
        records[0] = FaceRecord(records[0].encoding, "a.jpg", records[0].sha256, (1, 2, 30, 40), thumbnail=b"jpeg")
        db.add_faces("younes", records, FINGERPRINT, "dlib")
        db.add_faces("kian", random_records(rng, 2, "kian"), FINGERPRINT)
        db.remove("kian")  # ids with a hole, kept by the copy
        db.add_faces("Zoë", random_records(rng, 1, "zoe"), FINGERPRINT)
        db.log_events([DoorEvent(now_utc(), "younes", 0.3125, True, "cam.jpg"),
                       DoorEvent(now_utc(), None, 0.9, False, "cam2.jpg")])
        db.add_key("front", "door", "d" * 64)
        _fill_library(db, rng)


def _fill_library(db, rng) -> None:
    """A photo library: 3 files of 2 contents, 3 faces, one group named "lib" (enrolled with it), one "not" rule."""
    import numpy as np

    from facerec.database import FaceRecord
    from facerec.stores.sqlite_library import EncodedContent, PhotoState

    store, vectors = db.library_sql, rng.standard_normal((3, 128)).astype(np.float32)
    contents = [EncodedContent("a" * 64, 640, 480, np.array([[1, 2, 30, 40], [50, 60, 90, 99]]), vectors[:2],
                               np.array([0.9, 0.75])),
                EncodedContent("b" * 64, 320, 240, np.array([[5, 6, 70, 80]]), vectors[2:], np.array([1.5]))]
    photos = [("/photos/a.jpg", PhotoState(1000, 1700000000.25, "a" * 64)),
              ("/photos/copy of a.jpg", PhotoState(1000, 1700000001.5, "a" * 64)),
              ("/photos/b.jpg", PhotoState(2000, 1700000002.0, "b" * 64))]
    store.save(db, photos, contents, "2026-01-01T00:00:00+00:00", ("dlib", FINGERPRINT))
    faces = store.faces(db).ids.tolist()
    store.set_groups(db, {faces[0]: 4, faces[1]: 4, faces[2]: 7})
    db.add_faces("lib", [FaceRecord(vectors[2], "/photos/b.jpg", "b" * 64, (5, 6, 70, 80))], FINGERPRINT, "dlib",
                 then=lambda connection: store.mark_named(connection, [faces[2]], "lib"))
    store.add_not(db, faces[0], db.person_id("lib"))


def test_migrate_round_trips_sqlite_to_postgres_and_back(run, postgres, tmp_path):
    from facerec.stores.dump import fingerprints, read_tables

    original, back, url = tmp_path / "faces.sqlite", tmp_path / "back.sqlite", postgres.url()
    _fill(original)
    code, out, _ = run("--db", "unused.sqlite", "migrate", "--from", original, "--to", url, "--json")
    report = json.loads(out)
    assert code == 0 and report["tables"]["faces"]["rows"] == 5 and report["tables"]["door_log"]["rows"] == 2
    assert run("migrate", "--from", url, "--to", back)[0] == 0
    tables = []
    for location in (original, url, back):
        with FaceDatabase(location, create=False) as db:
            tables.append(fingerprints(read_tables(db)))
            assert db.names() == ["Zoë", "lib", "younes"] and db.thumbnail("younes") == b"jpeg"
            assert db.encoder_name == "dlib" and db.has_keys()
    assert tables[0] == tables[1] == tables[2]
    assert [tables[0][t]["rows"] for t in ("library_contents", "library_photos", "library_faces", "library_not")] == [
        2, 3, 3, 1]
    with FaceDatabase(url) as db:  # the copy goes on: new ids after the copied ones
        db.add_faces("new", random_records(__import__("numpy").random.default_rng(9), 1, "new"), FINGERPRINT)
        assert len(db.names()) == 4
        assert [(r["photo"], r["group"]) for r in db.library_sql.face_rows(db) if r["person_id"] is None] == [
            ("/photos/a.jpg", 4), ("/photos/a.jpg", 4)]
        _fill_library_more(db)
        assert db.library_sql.counts(db)["faces"] == 4


def _fill_library_more(db) -> None:
    import numpy as np

    from facerec.stores.sqlite_library import EncodedContent, PhotoState

    content = EncodedContent("c" * 64, 10, 10, np.array([[0, 0, 5, 5]]), np.zeros((1, 128), np.float32),
                             np.array([1.0]))
    db.library_sql.save(db, [("/photos/c.jpg", PhotoState(3, 1.0, "c" * 64))], [content], "2026-01-02T00:00:00+00:00",
                        ("dlib", FINGERPRINT))


def test_migrate_refuses_a_non_empty_target(run, postgres, tmp_path):
    source, url = tmp_path / "faces.sqlite", postgres.url()
    _fill(source)
    assert run("migrate", "--from", source, "--to", url)[0] == 0
    code, _, err = run("migrate", "--from", source, "--to", url)
    assert code == 2 and "is not empty" in err
    code, _, err = run("migrate", "--from", url, "--to", source)
    assert code == 2 and "is not empty" in err


def test_enroll_and_two_doors_on_a_url_log_with_their_names(run, url, tmp_path, monkeypatch):
    import shutil

    from helpers_issue4 import photo

    weights_or_skip()
    monkeypatch.setenv("FACEREC_QUEUE_DIR", str(tmp_path / "queues"))
    assert run("--db", url, "enroll", "kian", photo("kian"))[0] == 0
    assert run("--db", url, "enroll", "younes", photo("younes"))[0] == 0
    for door, name in (("front", "kian"), ("back", "camera_0")):
        frames = tmp_path / door
        frames.mkdir()
        shutil.copy(photo(name), frames / photo(name).name)
        code, out, _ = run("--db", url, "door", frames, "--door-name", door, "--json")
        assert code == 0 and json.loads(out)["visits"]
    with FaceDatabase(url) as db:
        assert db.door_names() == [("back", 1), ("front", 1)]
        assert {e.identity for e in db.door_log()} == {"kian", "younes"}


def _fill_visits(location) -> None:
    """Two doors' visits on ``location``: one reviewed as bob (enrolled from it), one kept as a known stranger."""
    import numpy as np
    from test_doors_shared import visit_record

    rng = np.random.default_rng(11)
    with FaceDatabase(location, door="front") as front, FaceDatabase(location, door="back") as back:
        front.add_faces("anna", random_records(rng, 1), FINGERPRINT, "dlib")
        first = front.log_events(*_visit_args("bob", rng, visit_record))
        second = back.log_events(*_visit_args("stranger", rng, visit_record))
        back.assign_visit(first, "bob")
        front.mark_stranger(second)


def _visit_args(tag, rng, visit_record) -> tuple:
    row, record = visit_record(tag, rng.standard_normal(128))
    return [row], 30, record


def test_migrate_copies_visits_crops_strangers_and_door_names_both_ways(run, postgres, tmp_path):
    from facerec.stores.dump import fingerprints, read_tables

    url, copy, again = postgres.url(), tmp_path / "copy.sqlite", postgres.url()
    _fill_visits(url)
    assert run("migrate", "--from", url, "--to", copy)[0] == 0
    code, out, _ = run("migrate", "--from", copy, "--to", again, "--json")
    report = json.loads(out)
    assert code == 0 and report["tables"]["visits"]["rows"] == 2 and report["tables"]["known_strangers"]["rows"] == 1
    assert report["door_names_dropped"] == 0
    seen = []
    for location in (url, copy, again):
        with FaceDatabase(location, create=False) as db:
            seen.append((fingerprints(read_tables(db)), db.visits(), [e.door for e in db.door_log()],
                         db.visit_crop(db.visits()[-1]["visit"]), db.known_strangers().tobytes()))
    assert seen[0] == seen[1] == seen[2]
    assert seen[0][2] == ["back", "front"] and seen[0][3] == b"CROP-bob"
    assert [v["review"]["name"] for v in seen[0][1]] == [None, "bob"]
    import numpy as np
    from test_doors_shared import visit_record

    for location in (copy, again):  # the copies go on: a new visit's id follows the copied ones
        with FaceDatabase(location) as db:
            new = db.log_events(*_visit_args("new", np.random.default_rng(1), visit_record))
            assert new > max(v["visit"] for v in seen[0][1])
