"""The SQLite face database: storage, model identity, and its transactional guarantees.

These tests store random encodings directly (no model needed); enrollment of
photos through the encoder is tested in test_api.py.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers_issue4 import FINGERPRINT, OTHER_FINGERPRINT, random_records, subprocess_env

from facerec.database import FaceDatabase
from facerec.exceptions import DatabaseError, EmptyDatabase, InvalidArgument, ModelMismatch, UnknownIdentity


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "faces.sqlite"


def snapshot(path) -> tuple:
    """Everything stored: people, face metadata and the encodings' bytes."""
    with FaceDatabase(path, create=False) as db:
        encodings, ids = db.encodings()
        return ([(p.name, p.photos) for p in db.people()], db.faces(), encodings.tobytes(), ids.tolist(),
                db.model_fingerprint)


def test_faces_round_trip_exactly_and_survive_reopening(db_path, rng):
    records = random_records(rng, 3)
    with FaceDatabase(db_path) as db:
        added, duplicates = db.add_faces("younes", records, FINGERPRINT)
        db.add_faces("kian", random_records(rng, 2, "kian"), FINGERPRINT)
    assert added == [r.source for r in records] and duplicates == []
    with FaceDatabase(db_path, create=False) as db:
        assert [(p.name, p.photos) for p in db.people()] == [("kian", 2), ("younes", 3)]
        encodings, ids = db.encodings("younes")
        np.testing.assert_array_equal(encodings, np.stack([r.encoding for r in records]))
        assert encodings.dtype == np.float32 and len(set(ids.tolist())) == 1
        faces = db.faces("younes")
        assert [f["source"] for f in faces] == [r.source for r in records]
        assert [f["sha256"] for f in faces] == [r.sha256 for r in records]
        assert [tuple(f["box"]) for f in faces] == [r.box for r in records]
        assert db.model_fingerprint == FINGERPRINT
        assert db.count_faces() == 5
    with sqlite3.connect(db_path) as raw:  # plain SQLite: WAL mode, encodings as 512-byte blobs
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert {len(blob) for (blob,) in raw.execute("SELECT encoding FROM faces")} == {512}


def test_the_same_photo_is_not_stored_twice_for_a_person(db_path, rng):
    records = random_records(rng, 2)
    with FaceDatabase(db_path) as db:
        db.add_faces("tian", records, FINGERPRINT)
        added, duplicates = db.add_faces("tian", records + random_records(rng, 1, "new"), FINGERPRINT)
        assert added == ["new_0.jpg"] and duplicates == [r.source for r in records]
        assert db.people()[0].photos == 3


def test_remove_deletes_the_person_and_their_faces(db_path, rng):
    with FaceDatabase(db_path) as db:
        db.add_faces("dan", random_records(rng, 3), FINGERPRINT)
        db.add_faces("tian", random_records(rng, 1), FINGERPRINT)
        assert db.remove("dan") == 3
        assert db.names() == ["tian"] and db.count_faces() == 1


def test_unknown_name_raises_without_naming_the_others_or_the_path(db_path, rng):
    with FaceDatabase(db_path) as db:
        db.add_faces("kevin", random_records(rng, 1), FINGERPRINT)
        db.add_faces("felix", random_records(rng, 1), FINGERPRINT)
        for call in (lambda: db.remove("benoit"), lambda: db.encodings("benoit")):
            with pytest.raises(UnknownIdentity, match="'benoit' is not enrolled.*people lists who is") as caught:
                call()
            assert "felix" not in str(caught.value) and "kevin" not in str(caught.value)
            assert str(db_path) not in str(caught.value) and db_path.name not in str(caught.value)


def test_empty_database_has_no_search(db_path):
    with FaceDatabase(db_path) as db:
        assert db.people() == [] and db.count_faces() == 0
        with pytest.raises(EmptyDatabase, match="enroll"):
            db.searcher()


def test_search_sees_writes_of_other_connections(db_path, rng):
    with FaceDatabase(db_path) as reader, FaceDatabase(db_path) as writer:
        writer.add_faces("andrew", random_records(rng, 1), FINGERPRINT)
        assert reader.searcher().n_people == 1
        writer.add_faces("arnaud", random_records(rng, 2), FINGERPRINT)
        assert reader.searcher().n_people == 2 and len(reader.searcher()) == 3


def test_other_weights_are_refused(db_path, rng):
    with FaceDatabase(db_path) as db:
        db.add_faces("younes", random_records(rng, 2), FINGERPRINT)
    with FaceDatabase(db_path) as db:
        with pytest.raises(ModelMismatch, match="other weights"):
            db.check_model(OTHER_FINGERPRINT)
        with pytest.raises(ModelMismatch):
            db.add_faces("kian", random_records(rng, 1), OTHER_FINGERPRINT)
        db.check_model(FINGERPRINT)
        assert db.names() == ["younes"]


def test_an_emptied_database_accepts_new_weights(db_path, rng):
    with FaceDatabase(db_path) as db:
        db.add_faces("younes", random_records(rng, 1), FINGERPRINT)
        db.remove("younes")
        db.add_faces("kian", random_records(rng, 1), OTHER_FINGERPRINT)
        assert db.model_fingerprint == OTHER_FINGERPRINT


@pytest.mark.parametrize("content", [b"this is a text file, not a database\n", bytes(range(256)) * 20])
def test_a_file_that_is_not_sqlite_raises_database_error(tmp_path, content):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(content)
    with pytest.raises(DatabaseError, match="not a usable facerec database"):
        FaceDatabase(path)
    assert path.read_bytes() == content  # left untouched


def test_another_programs_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE things (x)")
    with pytest.raises(DatabaseError, match="not a facerec one"):
        FaceDatabase(path)


def test_missing_database_or_directory_raises_database_error(tmp_path):
    with pytest.raises(DatabaseError, match="does not exist"):
        FaceDatabase(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(DatabaseError, match="directory"):
        FaceDatabase(tmp_path)


def test_bad_names_and_encodings_are_rejected_before_writing(db_path, rng):
    with FaceDatabase(db_path) as db:
        with pytest.raises(InvalidArgument, match="name"):
            db.add_faces("  ", random_records(rng, 1), FINGERPRINT)
        records = random_records(rng, 2)
        bad = records[1].__class__(np.ones(64, np.float32), "bad.jpg", "0" * 64, (0, 0, 1, 1))
        with pytest.raises(InvalidArgument, match="128"):
            db.add_faces("dan", [records[0], bad], FINGERPRINT)
        assert db.people() == []


def test_an_exception_in_the_middle_of_a_write_leaves_the_database_unchanged(db_path, rng, monkeypatch):
    with FaceDatabase(db_path) as db:
        db.add_faces("danielle", random_records(rng, 2), FINGERPRINT)
    before = snapshot(db_path)
    original, calls = FaceDatabase._insert_face, []

    def failing(connection, person, record, blob):
        calls.append(record.source)
        if len(calls) == 3:
            raise RuntimeError("simulated crash after two rows")
        return original(connection, person, record, blob)

    monkeypatch.setattr(FaceDatabase, "_insert_face", staticmethod(failing))
    with FaceDatabase(db_path) as db:
        with pytest.raises(RuntimeError, match="simulated"):
            db.add_faces("sebastiano", random_records(rng, 5, "s"), FINGERPRINT)
        with pytest.raises(RuntimeError):  # also for a person who already exists
            calls.clear()
            db.add_faces("danielle", random_records(rng, 5, "d"), FINGERPRINT)
    assert snapshot(db_path) == before


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from helpers_issue4 import FINGERPRINT, random_records
    from facerec.database import FaceDatabase

    rng = np.random.default_rng(1)
    db = FaceDatabase(sys.argv[1])
    db.add_faces("alice", random_records(rng, 3, "alice"), FINGERPRINT)
    original, calls = FaceDatabase._insert_face, []

    def killing(connection, person, record, blob):
        calls.append(1)
        if len(calls) == 3:  # two of bob's rows are written, the transaction is open
            os.kill(os.getpid(), signal.SIGKILL)
        return original(connection, person, record, blob)

    FaceDatabase._insert_face = staticmethod(killing)
    db.add_faces("bob", random_records(rng, 5, "bob"), FINGERPRINT)
    print("not killed")
""")


def test_a_writer_killed_mid_enrollment_leaves_exactly_the_committed_rows(db_path, tmp_path):
    script = tmp_path / "killed_writer.py"
    script.write_text(KILLED_WRITER)
    tests_dir = str(Path(__file__).parent)
    done = subprocess.run([sys.executable, str(script), str(db_path), tests_dir], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    with FaceDatabase(db_path, create=False) as db:
        assert [(p.name, p.photos) for p in db.people()] == [("alice", 3)]
        assert [f["source"] for f in db.faces()] == [f"alice_{i}.jpg" for i in range(3)]
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


CONCURRENT_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from helpers_issue4 import FINGERPRINT, random_records
    from facerec.database import FaceDatabase

    tag, count = sys.argv[3], int(sys.argv[4])
    rng = np.random.default_rng(ord(tag))
    with FaceDatabase(sys.argv[1]) as db:
        for i in range(count):
            db.add_faces(f"{tag}{i}", random_records(rng, 2, tag), FINGERPRINT)
            db.add_faces("shared", random_records(rng, 1, f"{tag}{i}"), FINGERPRINT)
""")


def test_two_processes_enrolling_at_once_lose_nothing(db_path, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(CONCURRENT_WRITER)
    tests_dir = str(Path(__file__).parent)
    count = 40
    writers = [subprocess.Popen([sys.executable, str(script), str(db_path), tests_dir, tag, str(count)],
                                env=subprocess_env(), stderr=subprocess.PIPE, text=True) for tag in ("p", "q")]
    for writer in writers:
        _, err = writer.communicate(timeout=180)
        assert writer.returncode == 0, err
    with FaceDatabase(db_path, create=False) as db:
        people = {p.name: p.photos for p in db.people()}
        assert len(people) == 2 * count + 1
        assert all(people[f"{tag}{i}"] == 2 for tag in "pq" for i in range(count))
        assert people["shared"] == 2 * count  # both processes appended to the same person
        assert db.count_faces() == 2 * count * 3
