"""The store's guarantees on both engines (SQLite file, PostgreSQL URL): the ``location`` fixture runs each twice.

PostgreSQL runs in a throwaway cluster (tests/helpers_postgres.py); its cases skip when it is not installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers_issue4 import FINGERPRINT, OTHER_FINGERPRINT, random_records, subprocess_env

from facerec.database import DoorEvent, FaceDatabase, FaceRecord, now_utc
from facerec.exceptions import DatabaseError, EmptyDatabase, InvalidArgument, ModelMismatch, UnknownIdentity
from facerec.stores.base import FaceStore, is_url, redact


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def snapshot(location) -> tuple:
    with FaceDatabase(location, create=False) as db:
        encodings, ids = db.encodings()
        return ([(p.name, p.photos) for p in db.people()], [{k: v for k, v in f.items() if k != "id"}
                                                            for f in db.faces()], encodings.tobytes(),
                db.model_fingerprint, db.encoder_name)


def test_urls_name_the_engine_and_never_show_a_password():
    assert is_url("postgresql://u:secret@db.example/faces") and is_url("POSTGRES://h/db")
    assert not is_url("faces.sqlite") and not is_url("postgresql.sqlite")
    assert redact("postgresql://u:secret@h:5432/faces?password=x&sslmode=require") == "postgresql://u:***@h:5432/faces"
    assert redact("postgresql://h/faces") == "postgresql://h/faces" and redact("a/b.sqlite") == "a/b.sqlite"


def test_both_engines_implement_the_store_interface(location):
    with FaceDatabase(location) as db:
        assert isinstance(db, FaceStore) and isinstance(db, FaceDatabase)


def test_faces_round_trip_exactly(location, rng):
    records = random_records(rng, 3)
    with FaceDatabase(location) as db:
        assert db.people() == [] and db.count_faces() == 0 and db.encoder_name is None
        added, duplicates = db.add_faces("younes", records, FINGERPRINT, "dlib")
        db.add_faces("kian", random_records(rng, 2, "kian"), FINGERPRINT)
        assert db.add_faces("younes", records[:1], FINGERPRINT) == ([], [records[0].source])
    assert added == [r.source for r in records] and duplicates == []
    with FaceDatabase(location, create=False) as db:
        assert [(p.name, p.photos) for p in db.people()] == [("kian", 2), ("younes", 3)]
        assert db.names() == ["kian", "younes"] and db.count_faces() == 5
        encodings, ids = db.encodings("younes")
        np.testing.assert_array_equal(encodings, np.stack([r.encoding for r in records]))
        assert encodings.dtype == np.float32 and len(set(ids.tolist())) == 1
        faces = db.faces("younes")
        assert [(f["source"], f["sha256"], tuple(f["box"])) for f in faces] == [
            (r.source, r.sha256, r.box) for r in records]
        assert db.model_fingerprint == FINGERPRINT and db.encoder_name == "dlib"
        assert db.photo_hashes("younes") == {r.sha256 for r in records}
        assert sorted(db.names_by_id().values()) == ["kian", "younes"]
        assert db.searcher().search(records[1].encoding[None])[1][0, 0] == db.person_id("younes")


def test_a_failed_enrollment_writes_nothing_not_even_the_schema(location, rng):
    good = random_records(rng, 2)
    bad = FaceRecord(np.full(128, np.nan, np.float32), "bad.jpg", "c" * 64, (0, 0, 1, 1))
    with FaceDatabase(location) as db:
        with pytest.raises(InvalidArgument):
            db.add_faces("younes", [*good, bad], FINGERPRINT)
        assert db.people() == [] and db.count_faces() == 0
    with pytest.raises(DatabaseError):  # nothing was created: reading commands still say "enroll first"
        FaceDatabase(location, create=False)


def test_an_error_inside_the_transaction_rolls_back_every_row(location, rng):
    with FaceDatabase(location) as db:
        db.add_faces("kian", random_records(rng, 1, "kian"), FINGERPRINT)
        before = snapshot(location)
        with pytest.raises(RuntimeError), db._transaction():
            raise RuntimeError("killed half-way")
        with pytest.raises(ModelMismatch):
            db.add_faces("younes", random_records(rng, 2), OTHER_FINGERPRINT)
    assert snapshot(location) == before


def test_encoder_binding_and_mismatch_refusal(location, rng):
    with FaceDatabase(location, encoder="dlib") as db:
        assert db.encoder_name == "dlib"
        db.add_faces("kian", random_records(rng, 1), FINGERPRINT)
    with FaceDatabase(location) as db:
        assert db.encoder_name == "dlib"
        with pytest.raises(ModelMismatch, match="dlib encodings"):
            db.check_model(FINGERPRINT, "nn4")
    with pytest.raises(ModelMismatch):
        FaceDatabase(location, encoder="nn4")


def test_remove_deletes_the_person_their_picture_and_their_log(location, rng):
    records = random_records(rng, 2)
    records[0] = FaceRecord(records[0].encoding, "a.jpg", records[0].sha256, (0, 0, 9, 9), thumbnail=b"\xff\xd8jpeg")
    with FaceDatabase(location) as db:
        db.add_faces("younes", records, FINGERPRINT)
        db.add_faces("kian", random_records(rng, 1, "kian"), FINGERPRINT)
        assert db.thumbnail("younes") == b"\xff\xd8jpeg" and db.thumbnail("kian") is None
        db.log_events([DoorEvent(now_utc(), "younes", 0.3, True, "/door/cam.jpg"),
                       DoorEvent(now_utc(), None, 0.9, False, "cam.jpg")])
        record, picture = db.export_person("younes")
        assert len(record["faces"]) == 2 and len(record["door_log"]) == 1 and picture == b"\xff\xd8jpeg"
        assert db.remove("younes") == 2
        assert db.names() == ["kian"] and [e.identity for e in db.door_log()] == [None]
        with pytest.raises(UnknownIdentity):
            db.thumbnail("younes")
        with pytest.raises(UnknownIdentity):
            db.remove("younes")


def test_the_door_log_keeps_order_retention_and_file_names_only(location, rng):
    with FaceDatabase(location) as db:
        assert db.door_log() == [] and db.purge_log(0) == 0
        db.log_events([DoorEvent("2000-01-01T00:00:00+00:00", None, 1.0, False, "old.jpg")], keep_days=None)
        db.log_events([DoorEvent(now_utc(), "kian", 0.25, True, "/a/b/new.jpg")])  # drops the old row
        assert [(e.identity, e.source, e.admitted) for e in db.door_log()] == [("kian", "new.jpg", True)]
        db.log_events([DoorEvent(now_utc(), None, 0.8, False, "x.jpg")])
        assert [e.identity for e in db.door_log(1)] == [None] and len(db.door_log(identity="kian")) == 1
        with pytest.raises(InvalidArgument):
            db.door_log(-1)
        assert db.purge_log(0) == 2 and db.door_log() == []


def test_access_keys(location):
    with FaceDatabase(location) as db:
        assert db.access_keys() == [] and not db.has_keys() and db.key_hashes() == []
        db.add_key("front", "door", "d" * 64)
        with pytest.raises(InvalidArgument, match="exists already"):
            db.add_key("front", "admin", "e" * 64)
        db.touch_key("front")
        assert db.has_keys() and db.key_hashes() == [("front", "door", "d" * 64)]
        assert db.access_keys()[0]["last_used"] is not None
        db.revoke_key("front")
        with pytest.raises(InvalidArgument, match="holds no keys"):
            db.revoke_key("front")
        assert not db.has_keys()


def test_an_empty_gallery_cannot_identify(location):
    with FaceDatabase(location) as db, pytest.raises(EmptyDatabase):
        db.searcher()


def test_a_search_sees_another_process_enrollment(location, rng):
    with FaceDatabase(location) as door:
        door.add_faces("kian", random_records(rng, 1, "kian"), FINGERPRINT)
        assert len(door.searcher()) == 1
        with FaceDatabase(location) as admin:
            admin.add_faces("younes", random_records(rng, 2), FINGERPRINT)
        assert wait_for(lambda: len(door.searcher()) == 3)  # PostgreSQL: when its NOTIFY arrives (milliseconds)


def wait_for(condition, seconds: float = 5.0) -> bool:
    """Whether ``condition()`` became true within ``seconds`` (checked every 10 ms)."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_two_processes_enrolling_at_once_lose_no_row(location, rng):
    script = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, "tests")
        from helpers_issue4 import random_records, FINGERPRINT
        from facerec.database import FaceDatabase
        seed = int(sys.argv[1])
        with FaceDatabase({str(location)!r}) as db:
            for i in range(10):
                db.add_faces(f"p{{seed}}_{{i}}", random_records(np.random.default_rng(seed * 100 + i), 2),
                             FINGERPRINT, "dlib")
    """)
    children = [subprocess.Popen([sys.executable, "-c", script, str(seed)], env=subprocess_env()) for seed in (1, 2)]
    assert [child.wait(timeout=120) for child in children] == [0, 0]
    with FaceDatabase(location, create=False) as db:
        assert len(db.names()) == 20 and db.count_faces() == 40


def test_a_database_of_another_program_is_refused(postgres):
    import psycopg

    url = postgres.url()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(DatabaseError, match="not a facerec database"):
        FaceDatabase(url)


def test_an_unreachable_server_is_a_typed_error_without_the_password(postgres):
    from facerec.exceptions import DatabaseUnreachable

    url = f"postgresql://postgres:s3cret@127.0.0.1:{postgres.port + 1 if postgres.port < 65535 else 1}/nothing"
    with pytest.raises(DatabaseUnreachable) as raised:
        FaceDatabase(url)
    assert "s3cret" not in str(raised.value) and "***" in str(raised.value)
