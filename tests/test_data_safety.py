"""Nothing committed is ever lost, and nothing of a removed person stays: two processes on one file,
failures half-way, files replaced under a running server, file modes, secure removal, purge and export.

Most tests store random encodings (no model); the command-line ones run real ``facerec`` processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from helpers_issue4 import FINGERPRINT, random_records, subprocess_env

from facerec.database import DoorEvent, FaceDatabase, FaceRecord, now_utc
from facerec.exceptions import DatabaseGone, DatabaseNotWritable, InvalidArgument, UnknownIdentity

TESTS = str(Path(__file__).parent)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _python(code: str, *args, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)


# -- a failing command never deletes what another process committed -------------------------------------

# Runs the real `facerec enroll` in this process, with detection paused until the test says go: the test
# commits another person meanwhile, then lets this enrollment fail (its photos have no face).
PAUSED_ENROLL = """
import sys, time
from pathlib import Path
import facerec.align as align
import facerec.cli as cli

ready, go = Path(sys.argv[1]), Path(sys.argv[2])
real = align.find_faces

def paused(*args, **kwargs):
    ready.touch()
    while not go.exists():
        time.sleep(0.05)
    return real(*args, **kwargs)

align.find_faces = paused
sys.exit(cli.main(sys.argv[3:]))
"""


def _blank_photos(folder: Path, count: int) -> Path:
    from PIL import Image

    folder.mkdir()
    for index in range(count):
        Image.new("RGB", (120, 120), (200, 200, 200)).save(folder / f"wall_{index}.jpg")
    return folder


def test_a_failing_enroll_on_a_new_database_keeps_what_another_process_committed(tmp_path, rng):
    db_path, ready, go = tmp_path / "new.sqlite", tmp_path / "ready", tmp_path / "go"
    wall = _blank_photos(tmp_path / "wall", 2)
    script = tmp_path / "paused_enroll.py"
    script.write_text(PAUSED_ENROLL)
    failing = subprocess.Popen([sys.executable, str(script), ready, go, "--db", db_path, "enroll", "wall", wall],
                               env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert failing.poll() is None and time.monotonic() < deadline, failing.communicate()
            time.sleep(0.05)
        assert not db_path.exists(), "the database file was created before anything was written to it"
        committed = _python("""
            import sys; sys.path.insert(0, sys.argv[2])
            import numpy as np
            from helpers_issue4 import FINGERPRINT, random_records
            from facerec.database import FaceDatabase
            with FaceDatabase(sys.argv[1]) as db:
                db.add_faces("younes", random_records(np.random.default_rng(1), 2), FINGERPRINT, "dlib")
            """, db_path, TESTS)
        assert committed.returncode == 0, committed.stderr
        go.touch()
        out, err = failing.communicate(timeout=300)
    finally:
        failing.kill()
    assert failing.returncode == 2 and "no face" in err, (out, err)
    assert db_path.exists(), "the failing enrollment deleted a database another process had written"
    with FaceDatabase(db_path, create=False) as db:
        assert [(p.name, p.photos) for p in db.people()] == [("younes", 2)]


def test_a_failed_or_interrupted_enrollment_into_a_new_database_leaves_no_file(tmp_path):
    db_path = tmp_path / "folder" / "new.sqlite"
    wall = _blank_photos(tmp_path / "wall", 1)
    done = subprocess.run([sys.executable, "-m", "facerec", "--db", str(db_path), "enroll", "wall", str(wall)],
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and not db_path.exists() and not Path(f"{db_path}-wal").exists()
    with FaceDatabase(db_path) as db:  # opening a new database creates nothing either
        assert db.people() == [] and db.count_faces() == 0 and db.encoder_name is None
    assert not db_path.exists()


def test_processes_creating_one_new_database_at_once_all_succeed(tmp_path):
    db_path = tmp_path / "new.sqlite"
    code = """
        import sys; sys.path.insert(0, sys.argv[2])
        import numpy as np
        from helpers_issue4 import FINGERPRINT, random_records
        from facerec.database import FaceDatabase
        with FaceDatabase(sys.argv[1]) as db:
            db.add_faces(sys.argv[3], random_records(np.random.default_rng(int(sys.argv[4])), 3), FINGERPRINT, "dlib")
        """
    processes = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(db_path), TESTS, f"p{i}", str(i)],
                                  env=subprocess_env(), stderr=subprocess.PIPE, text=True) for i in range(4)]
    errors = [process.communicate(timeout=180)[1] for process in processes]
    assert all(process.returncode == 0 for process in processes), errors
    with FaceDatabase(db_path, create=False) as db:
        assert sorted(p.name for p in db.people()) == ["p0", "p1", "p2", "p3"] and db.count_faces() == 12


# Every write path, in two processes at once on one file: each process runs its writes N times.
WRITES = {
    "add_faces": "db.add_faces(f'{tag}{i}', random_records(rng, 2, tag), FINGERPRINT, 'dlib')",
    "remove": "db.add_faces(f'{tag}{i}', random_records(rng, 1, tag), FINGERPRINT, 'dlib'); db.remove(f'{tag}{i}')",
    "log_events": "db.log_events([DoorEvent(now_utc(), f'{tag}{i}', 0.1, True, 'x.jpg')], keep_days=None)",
    "purge_log": "db.log_events([DoorEvent('2000-01-01T00:00:00+00:00', tag, 0.1, True)], keep_days=None); "
                 "db.purge_log(30)",
}
WRITER = """
import sys; sys.path.insert(0, sys.argv[2])
import numpy as np
from helpers_issue4 import FINGERPRINT, random_records
from facerec.database import DoorEvent, FaceDatabase, now_utc
tag, count = sys.argv[3], int(sys.argv[4])
rng = np.random.default_rng(abs(hash(tag)) % 1000)
with FaceDatabase(sys.argv[1]) as db:
    for i in range(count):
        WRITE
"""


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_write_path_run_by_two_processes_at_once_loses_nothing(tmp_path, write):
    db_path, count = tmp_path / "faces.sqlite", 15
    with FaceDatabase(db_path) as db:  # a resident both processes must leave alone
        db.add_faces("resident", random_records(np.random.default_rng(0), 2), FINGERPRINT, "dlib")
    code = WRITER.replace("WRITE", WRITES[write])
    processes = [subprocess.Popen([sys.executable, "-c", code, str(db_path), TESTS, tag, str(count)],
                                  env=subprocess_env(), stderr=subprocess.PIPE, text=True) for tag in ("p", "q")]
    errors = [process.communicate(timeout=300)[1] for process in processes]
    assert all(process.returncode == 0 for process in processes), errors
    with FaceDatabase(db_path, create=False) as db:
        people = {p.name: p.photos for p in db.people()}
        log = db.door_log(1000)
        integrity = db._query("PRAGMA integrity_check")[0][0]
    assert integrity == "ok" and people["resident"] == 2
    expected_people = {"add_faces": 2 * count + 1}.get(write, 1)
    assert len(people) == expected_people
    assert len(log) == {"log_events": 2 * count}.get(write, 0)


# -- a server notices its file was removed or replaced -----------------------------------------------------

def test_an_open_database_refuses_writes_after_its_file_is_removed_or_replaced(tmp_path, rng):
    db_path = tmp_path / "faces.sqlite"
    db = FaceDatabase(db_path, shared=True)
    db.add_faces("younes", random_records(rng, 1), FINGERPRINT, "dlib")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(DatabaseGone, match="was removed"):
        db.add_faces("kian", random_records(rng, 1), FINGERPRINT, "dlib")
    assert "was removed" in db.write_problem()
    with FaceDatabase(db_path) as other:  # another process starts a new file at the same path
        other.add_faces("tian", random_records(rng, 1), FINGERPRINT, "dlib")
    with pytest.raises(DatabaseGone, match="was replaced"):
        db.remove("younes")
    db.close()
    with FaceDatabase(db_path, create=False) as fresh:
        assert fresh.names() == ["tian"]


def test_the_server_stops_writing_and_says_why_when_its_file_is_removed(tmp_path, rng):
    from fastapi.testclient import TestClient

    from facerec.server.app import create_app

    db_path = tmp_path / "secret-folder" / "faces.sqlite"
    with FaceDatabase(db_path) as db:
        db.add_faces("younes", random_records(rng, 1), FINGERPRINT, "dlib")
    with TestClient(create_app(db_path)) as client:
        health = client.get("/api/health").json()
        assert health["status"] == "ok" and health["writable"] is True and health["people"] == 1
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        response = client.delete("/api/people/younes")
        assert response.status_code == 503 and response.json()["error"] == "DatabaseGone"
        assert "secret-folder" not in response.text and "faces.sqlite" not in response.text
        health = client.get("/api/health")
        assert health.status_code == 503 and health.json()["status"] == "error"
        assert health.json()["writable"] is False and "secret-folder" not in health.text


# -- privacy: file modes, removal without trace, retention, purge, export ------------------------------------

def test_database_files_are_private_and_new_folders_too(tmp_path, rng):
    db_path = tmp_path / "new" / "deeper" / "faces.sqlite"
    old_umask = os.umask(0o022)
    try:
        db = FaceDatabase(db_path)
        db.add_faces("younes", random_records(rng, 1), FINGERPRINT, "dlib")
        modes = {suffix: stat.S_IMODE(os.stat(f"{db_path}{suffix}").st_mode) for suffix in ("", "-wal", "-shm")}
        db.close()
    finally:
        os.umask(old_umask)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert stat.S_IMODE(os.stat(db_path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(db_path.parent.parent).st_mode) == 0o700


def _file_bytes(db_path: Path) -> bytes:
    return b"".join(Path(f"{db_path}{suffix}").read_bytes() for suffix in ("", "-wal")
                    if Path(f"{db_path}{suffix}").exists())


def test_removing_a_person_leaves_no_trace_in_the_file_or_its_wal(tmp_path, rng):
    db_path = tmp_path / "faces.sqlite"
    name = "Zebulon Quixotic"
    records = [FaceRecord(r.encoding, "zeb_holiday.jpg", r.sha256, r.box, b"\xff\xd8THUMBNAIL-OF-ZEBULON\xff\xd9")
               for r in random_records(rng, 3)]
    db = FaceDatabase(db_path, shared=True)  # stays open throughout, like a server
    db.add_faces("younes", random_records(rng, 2, "younes"), FINGERPRINT, "dlib")
    db.add_faces(name, records, FINGERPRINT, "dlib")
    db.log_events([DoorEvent(now_utc(), name, 0.2, True, "/home/door/zebulon_at_the_door.jpg")])
    traces = [name.encode(), b"THUMBNAIL-OF-ZEBULON", b"zeb_holiday", records[0].sha256.encode(),
              records[1].encoding.astype("<f4").tobytes()[:64], b"zebulon_at_the_door"]
    assert all(trace in _file_bytes(db_path) for trace in traces)  # the search can find them
    assert db.remove(name) == 3
    left = _file_bytes(db_path)
    assert [trace for trace in traces if trace in left] == []
    assert db.names() == ["younes"] and db.door_log() == []
    db.close()


def test_the_door_log_keeps_no_folders_and_old_rows_are_dropped_and_purged(tmp_path, rng):
    db_path = tmp_path / "faces.sqlite"
    with FaceDatabase(db_path) as db:
        old = DoorEvent("2020-01-01T00:00:00+00:00", "younes", 0.3, True, "C:\\cams\\front\\frame1.jpg")
        db.log_events([old], keep_days=None)
        assert db.door_log()[0].source == "frame1.jpg"
        db.log_events([DoorEvent(now_utc(), None, 0.9, False, "/srv/cam/frame2.jpg")], keep_days=30)
        assert [e.source for e in db.door_log()] == ["frame2.jpg"]  # the 2020 row went past its 30 days
        db.log_events([old], keep_days=None)
        assert db.purge_log(30) == 1 and len(db.door_log()) == 1
        assert db.purge_log(0) == 1 and db.door_log() == []
        with pytest.raises(InvalidArgument):
            db.purge_log(-1)


def _younes_with_a_picture(db_path: Path, rng, events: list[DoorEvent]) -> list[FaceRecord]:
    """younes enrolled with two random faces (the first one "a.jpg" with a picture), and these door events."""
    records = random_records(rng, 2)
    records[0] = FaceRecord(records[0].encoding, "a.jpg", records[0].sha256, records[0].box, b"\xff\xd8JPEG")
    with FaceDatabase(db_path) as db:
        db.add_faces("younes", records, FINGERPRINT, "dlib")
        db.log_events(events, keep_days=None)
    return records


def test_purge_and_export_on_the_command_line(tmp_path, rng):
    db_path = tmp_path / "faces.sqlite"
    records = _younes_with_a_picture(db_path, rng, [
        DoorEvent("2020-01-01T00:00:00+00:00", "younes", 0.3, True, "f.jpg"),
        DoorEvent(now_utc(), "younes", 0.2, True, "g.jpg"), DoorEvent(now_utc(), None, 0.9, False, "h.jpg")])

    def run(*args):
        return subprocess.run([sys.executable, "-m", "facerec", "--db", str(db_path), *args], env=subprocess_env(),
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)

    export = run("export", " younes ", "--json")
    assert export.returncode == 0, export.stderr
    folder = Path(json.loads(export.stdout)["folder"])
    folder = folder if folder.is_absolute() else tmp_path / folder
    record = json.loads((folder / "person.json").read_text())
    assert record["name"] == "younes" and len(record["faces"]) == 2 and len(record["faces"][0]["encoding"]) == 128
    assert np.allclose(record["faces"][1]["encoding"], records[1].encoding, atol=1e-6)
    assert [e["source"] for e in record["door_log"]] == ["g.jpg", "f.jpg"]  # theirs only, newest first
    assert (folder / "thumbnail.jpg").read_bytes() == b"\xff\xd8JPEG"
    assert stat.S_IMODE(os.stat(folder / "person.json").st_mode) == 0o600
    purge = run("purge", "--keep-log-days", "30", "--json")
    assert purge.returncode == 0 and json.loads(purge.stdout)["removed"] == 1
    unknown = run("export", "nobody")
    assert unknown.returncode == 2 and "not enrolled" in unknown.stderr and "younes" not in unknown.stderr


# -- names --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "   ", "x" * 101, "a/b", "evil\x1b[31mred", "line\nbreak", "tab\there",
                                 "abc\u202edcba", "iso\u2066late", "zero\u200fmark", "nul\x00"])
def test_bad_names_are_refused_with_a_clear_error(tmp_path, rng, bad):
    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        with pytest.raises(InvalidArgument, match="name") as caught:
            db.add_faces(bad, random_records(rng, 1), FINGERPRINT, "dlib")
        assert "\x1b" not in str(caught.value) and "\n" not in str(caught.value)
        assert db.people() == []


def test_names_are_normalised_and_trimmed_the_same_way_on_every_path(tmp_path, rng):
    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        db.add_faces(" felix ", random_records(rng, 1), FINGERPRINT, "dlib")
        db.add_faces("Zoe\u0301", random_records(rng, 1, "z"), FINGERPRINT, "dlib")  # decomposed accent
        assert db.names() == ["Zo\u00e9", "felix"]  # NFC
        assert len(db.encodings(" felix")[0]) == 1 and db.photo_hashes("Zo\u00e9")
        assert db.remove(" felix ") == 1 and db.remove("Zo\u00e9") == 1
        with pytest.raises(UnknownIdentity):
            db.remove("felix")


# -- honest failure on the command line ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["log", "--limit", "99999999999999999999"], ["log", "--limit", "-1"],
                                  ["identify", "x.jpg", "-k", "0"], ["door", "x", "--out", "y", "--every", "abc"],
                                  ["serve", "--port", "70000"], ["verify", "x.jpg", "--as", "a", "--threshold", "nan"],
                                  ["purge", "--keep-log-days", "inf"]])
def test_no_argument_gives_a_traceback(tmp_path, args):
    done = subprocess.run([sys.executable, "-m", "facerec", "--db", str(tmp_path / "f.sqlite"), *args],
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "expected" in done.stderr, done.stderr


def test_a_name_with_terminal_escapes_never_reaches_the_terminal(tmp_path):
    done = subprocess.run([sys.executable, "-m", "facerec", "--db", str(tmp_path / "f.sqlite"), "enroll",
                           "evil\x1b]0;pwned\x07", "nothing.jpg"], env=subprocess_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "\x1b" not in done.stderr and "control" in done.stderr
    assert not (tmp_path / "f.sqlite").exists()


# -- read-only and full disks (a small tmpfs; needs the right to mount, as root in CI) -------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs at ``tmp_path/disk`` (skipped where this process may not mount)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); CI runs as root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _facerec(db_path: Path, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facerec", "--db", str(db_path), *map(str, args)],
                          env=subprocess_env(), capture_output=True, text=True, timeout=timeout)


def test_a_full_disk_is_said_as_such_and_reading_still_works(small_disk):
    from helpers_issue4 import photo, weights_or_skip

    weights_or_skip()
    db_path = small_disk / "faces.sqlite"
    enroll = _facerec(db_path, "enroll", "younes", photo("younes"))
    assert enroll.returncode == 0, enroll.stderr
    filler = small_disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    people = _facerec(db_path, "people", "--json")
    assert people.returncode == 0 and json.loads(people.stdout)[0]["name"] == "younes", people.stderr
    with FaceDatabase(db_path) as db:
        assert "disk is full" in db.write_problem()
        with pytest.raises(DatabaseNotWritable, match="the disk is full"):
            db.log_events([DoorEvent(now_utc(), None, 0.9, False, "x.jpg")] * 500)
        assert db.door_log() == []
    enroll = _facerec(db_path, "enroll", "kian", photo("kian"))
    assert enroll.returncode == 1 and "the disk is full" in enroll.stderr and "Traceback" not in enroll.stderr
    filler.unlink()
    with FaceDatabase(db_path, create=False) as db:
        assert db.names() == ["younes"] and db._query("PRAGMA integrity_check")[0][0] == "ok"


def test_a_read_only_disk_keeps_the_door_identifying_and_says_the_log_is_not_written(small_disk):
    from fastapi.testclient import TestClient
    from helpers_issue4 import photo, weights_or_skip

    from facerec.server.app import create_app

    weights_or_skip()
    db_path = small_disk / "faces.sqlite"
    enroll = _facerec(db_path, "enroll", "younes", photo("younes"))
    assert enroll.returncode == 0, enroll.stderr
    remount = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True, text=True)
    assert remount.returncode == 0, remount.stderr
    people = _facerec(db_path, "people")
    assert people.returncode == 0 and "younes" in people.stdout, people.stderr
    enroll = _facerec(db_path, "enroll", "kian", photo("kian"))
    assert enroll.returncode == 1 and "read-only" in enroll.stderr and "Traceback" not in enroll.stderr
    door = _facerec(db_path, "door", photo("camera_0"), "--out", small_disk.parent / "out")
    assert door.returncode == 0 and "log is not being written" in door.stderr, door.stderr
    with TestClient(create_app(db_path)) as client:
        health = client.get("/api/health").json()
        assert health["status"] == "read-only" and health["writable"] is False and health["log"] == "not written"
        found = client.post("/api/identify", files=[("photo", ("c.jpg", photo("camera_0").read_bytes(), "image/jpeg"))])
        assert found.status_code == 200 and found.json()["logged"] is False
        assert found.json()["faces"][0]["identity"] == "younes"
        refused = client.delete("/api/people/younes")
        assert refused.status_code == 503 and "read-only" in refused.json()["message"]
        assert str(small_disk) not in refused.text


def test_duplicate_photos_are_recognised_before_they_are_decoded(tmp_path, monkeypatch):
    from helpers_issue4 import photo, weights_or_skip

    import facerec.database as database

    weights_or_skip()
    links = tmp_path / "links"
    links.mkdir()
    for index in range(1000):
        (links / f"younes_{index:04d}.jpg").symlink_to(photo("younes"))
    encoded = []
    real = database._encode_photo
    monkeypatch.setattr(database, "_encode_photo", lambda image, *args: encoded.append(image) or real(image, *args))
    with FaceDatabase(tmp_path / "faces.sqlite") as db:
        first = db.enroll("younes", sorted(links.iterdir()))
        again = db.enroll("younes", [photo("younes")])
    assert len(encoded) == 1 and len(first.added) == 1 and len(first.duplicates) == 999
    assert again.added == [] and again.duplicates == [photo("younes").name]


def test_purge_export_and_removal_through_the_api(tmp_path, rng):
    import base64

    from fastapi.testclient import TestClient

    from facerec.server.app import create_app

    db_path = tmp_path / "faces.sqlite"
    _younes_with_a_picture(db_path, rng, [DoorEvent("2020-01-01T00:00:00+00:00", "kian", 0.3, True, "f.jpg"),
                                          DoorEvent(now_utc(), "younes", 0.2, True, "g.jpg")])
    with TestClient(create_app(db_path)) as client:
        export = client.get("/api/people/%20younes/export").json()
        assert export["name"] == "younes" and [f["source"] for f in export["faces"]] == ["a.jpg", "photo_1.jpg"]
        assert base64.b64decode(export["thumbnail_jpeg_base64"]) == b"\xff\xd8JPEG"
        assert [e["source"] for e in export["door_log"]] == ["g.jpg"]
        assert client.post("/api/log/purge?keep_days=30").json() == {"removed": 1, "keep_days": 30}
        assert client.post("/api/log/purge?keep_days=-1").status_code == 422
        bad = client.post("/api/people/evil%1B%5B31m/faces", files=[("photos", ("a.jpg", b"x", "image/jpeg"))])
        assert bad.status_code == 400 and bad.json()["error"] == "InvalidArgument", bad.text
        assert client.delete("/api/people/younes%20").json() == {"removed": 2}
        assert client.get("/api/log").json() == []


def test_the_server_recognises_a_duplicate_upload_before_decoding_it(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    from helpers_issue4 import photo, weights_or_skip

    import facerec.image as image_module
    from facerec.server.app import create_app

    weights_or_skip()
    decoded = []
    real = image_module.load_image
    monkeypatch.setattr(image_module, "load_image", lambda path, **kw: decoded.append(path) or real(path, **kw))
    younes = ("photos", ("younes.jpg", photo("younes").read_bytes(), "image/jpeg"))
    again = ("photos", ("again.jpg", photo("younes").read_bytes(), "image/jpeg"))
    with TestClient(create_app(tmp_path / "faces.sqlite")) as client:
        first = client.post("/api/people/younes/faces", files=[younes, again]).json()
        assert first["enrolled"] == ["younes.jpg"] and first["skipped"][0]["file"] == "again.jpg"
        second = client.post("/api/people/younes/faces", files=[again]).json()
        assert second["enrolled"] == [] and "already enrolled" in second["skipped"][0]["reason"]
    assert len(decoded) == 1
    with FaceDatabase(tmp_path / "faces.sqlite") as db:  # the file's hash is stored, as the command line does
        assert db.photo_hashes("younes") == {hashlib.sha256(photo("younes").read_bytes()).hexdigest()}
