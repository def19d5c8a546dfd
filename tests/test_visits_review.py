"""Visits in the database and their review (issue 24, items 4 and 5): each visit stored with its best crop and
decision under the door log's retention; ``facerec visits``, ``facerec assign`` and the known strangers.

The database tests use random encodings and a made-up fingerprint (no model, fast); the last ones run the
door on a loopback MJPEG stream of a Happy House photo and review its visit on the command line.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest
from helpers_issue4 import photo, random_records, weights_or_skip

from facerec.cli import main
from facerec.database import DoorEvent, FaceDatabase
from facerec.exceptions import InvalidArgument, ModelMismatch, UnknownVisit
from facerec.stores.base import VisitStore, is_url
from facerec.stores.sqlite_visits import VisitRecord
from facerec.visits import face_crop

FINGERPRINT = "f" * 64
MARKER = b"VISIT-CROP-MARKER-"


def ago(days: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="milliseconds")


def log_visit(db: FaceDatabase, start: str, identity: str | None = None, encoding: np.ndarray | None = None,
              keep_days: float | None = None, fingerprint: str = FINGERPRINT, tag: str = "") -> int:
    """Log one visit (its door-log row, decision, a fake crop holding ``MARKER + tag``); returns its id."""
    line = {"visit": 1, "start": start, "end": start, "identity": identity, "admitted": identity is not None,
            "distance": 0.3 if identity else 0.8, "frames": 5, "flat": None, "threshold": 0.54,
            "operating_point": "0.540 (false-alarm-1e-2)", "promise": None}
    vector = encoding if encoding is not None else np.random.default_rng(len(tag)).standard_normal(128)
    record = VisitRecord(line, MARKER + tag.encode(), np.asarray(vector, "<f4").tobytes(), fingerprint)
    return db.log_events([DoorEvent(start, identity, line["distance"], line["admitted"], "cam")], keep_days,
                         visit=record)


@pytest.fixture
def db(location):
    """A database with anna enrolled (random encodings, a made-up dlib fingerprint), on each engine (the
    ``location`` fixture of tests/conftest.py: an SQLite file, then a PostgreSQL database; skipped without it)."""
    with FaceDatabase(location) as opened:
        opened.add_faces("anna", random_records(np.random.default_rng(0), 2), FINGERPRINT, "dlib")
        yield opened


def test_visits_are_listed_newest_first_with_their_decision_and_promise(db):
    assert isinstance(db, VisitStore) and db.stores_visits
    first = log_visit(db, ago(0.2), "anna")
    second = log_visit(db, ago(0.1))
    third = log_visit(db, ago(0.3))  # logged last, started first
    visits = db.visits()
    assert [v["visit"] for v in visits] == [second, first, third]
    assert visits[1]["identity"] == "anna" and visits[1]["admitted"] and visits[1]["threshold"] == 0.54
    assert visits[0]["crop"] and visits[0]["review"] is None
    assert [v["visit"] for v in db.visits(limit=1)] == [second]
    assert db.visit_crop(first) == MARKER


def test_visit_ids_are_never_reused_after_a_purge(db):
    old = log_visit(db, ago(0.1))
    db.purge_log(0)
    assert log_visit(db, ago(0.1)) > old
    with pytest.raises(UnknownVisit, match="retention"):
        db.visit_crop(old)


def test_the_retention_purges_visits_and_their_crops_from_the_file(db, location):
    old = log_visit(db, ago(40), tag="old")
    kept = log_visit(db, ago(1), tag="kept", keep_days=30)  # writing the log drops what is past the retention
    assert [v["visit"] for v in db.visits()] == [kept]
    with pytest.raises(UnknownVisit):
        db.visit(old)
    db.purge_log(0)  # facerec purge --keep-log-days 0
    assert db.visits() == [] and db.door_log() == []
    db.checkpoint()
    if not is_url(location):
        assert MARKER not in db.path.read_bytes()  # secure_delete: the crops are overwritten, not unlinked


def test_this_is_x_enrolls_the_visits_face_in_one_transaction(db):
    vector = np.random.default_rng(7).standard_normal(128).astype(np.float32)
    visit = log_visit(db, ago(0.01), encoding=vector)
    result = db.assign_visit(visit, "bob")
    assert result.added == [f"visit-{visit}.jpg"]
    encodings, _ = db.encodings("bob")
    np.testing.assert_allclose(encodings[0], vector, rtol=1e-6)
    assert db.thumbnail("bob") == MARKER  # the crop is bob's picture
    assert db.visit(visit)["review"]["name"] == "bob" and not db.visit(visit)["review"]["stranger"]
    assert db.assign_visit(visit, "bob").duplicates == [f"visit-{visit}.jpg"]  # twice: stored once
    assert [v["visit"] for v in db.export_person("bob")[0]["visits"]] == [visit]  # what is kept about bob


def test_a_visit_of_other_weights_is_refused_and_nothing_changes(db):
    visit = log_visit(db, ago(0.01), fingerprint="0" * 64)
    with pytest.raises(ModelMismatch):
        db.assign_visit(visit, "bob")
    assert "bob" not in db.names() and db.visit(visit)["review"] is None
    with pytest.raises(UnknownVisit):
        db.assign_visit(visit + 1, "bob")
    with pytest.raises(InvalidArgument):
        db.assign_visit(0, "bob")


def test_not_anyone_we_know_keeps_a_known_stranger(db):
    assert db.known_strangers().shape == (0, 128)
    vector = np.random.default_rng(3).standard_normal(128).astype(np.float32)
    visit = log_visit(db, ago(0.01), encoding=vector)
    db.mark_stranger(visit)
    db.mark_stranger(visit)  # twice: kept once
    strangers = db.known_strangers()
    assert strangers.shape == (1, 128) and strangers.dtype == np.float32
    np.testing.assert_allclose(strangers[0], vector, rtol=1e-6)
    assert db.visit(visit)["review"]["stranger"] is True
    db.purge_log(0)
    assert len(db.known_strangers()) == 1  # kept on purpose: not under the log's retention
    assert db.forget_strangers() == 1 and len(db.known_strangers()) == 0


def test_removing_a_person_deletes_their_visits_and_crops(db, location):
    decided = log_visit(db, ago(0.01), "anna", tag="decided")
    assigned = log_visit(db, ago(0.01), tag="assigned")
    db.add_faces("carl", random_records(np.random.default_rng(5), 1, "carl"), FINGERPRINT)
    db.assign_visit(assigned, "carl")
    other = log_visit(db, ago(0.01), tag="other")
    db.remove("anna")
    db.remove("carl")
    assert [v["visit"] for v in db.visits()] == [other]
    if not is_url(location):
        data = db.path.read_bytes()
        assert MARKER + b"decided" not in data and MARKER + b"assigned" not in data and MARKER + b"other" in data
    with pytest.raises(UnknownVisit):
        db.visit(decided)


def test_a_face_crop_is_a_small_square_jpeg_even_at_the_frames_edge():
    rgb = np.zeros((480, 640, 3), np.uint8)
    for box in [(200, 100, 300, 200), (0, 0, 80, 90), (600, 440, 640, 480)]:
        jpeg = face_crop(rgb, box)
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (128, 128, 3) and len(jpeg) < 20_000
    assert face_crop(rgb, (10, 10, 10, 10)) is None


# -- the door, then the review on the command line (the default encoder, a loopback stream) ---------------

def benoit_at_the_door(folder) -> str:
    """A database with younes enrolled, after benoit's stream came to the door: one unknown visit."""
    from test_door_camera import MjpegServer, door_frame

    weights_or_skip()
    path = folder / "faces.sqlite"
    assert main(["--db", str(path), "enroll", "younes", str(photo("younes"))]) == 0
    server = MjpegServer(door_frame("benoit"), per_connection=8)
    assert main(["--db", str(path), "door", server.url, "--json", "--detector", "hog", "--give-up", "1"]) == 0
    return path


@pytest.fixture(scope="module")
def door_db(tmp_path_factory):
    return benoit_at_the_door(tmp_path_factory.mktemp("review"))


def test_the_cli_lists_visits_as_door_json_objects_and_this_is_x_enrolls_the_crop(door_db, capsys):
    capsys.readouterr()
    assert main(["--db", str(door_db), "visits", "--json"]) == 0
    visits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(visits) == 1 and visits[0]["identity"] is None and visits[0]["crop"]
    assert {"visit", "start", "end", "identity", "admitted", "distance", "frames", "flat", "promise", "threshold",
            "operating_point"} <= set(visits[0])
    assert visits[0]["promise"] is None or "strangers" in visits[0]["promise"]["text"]  # the cohort rule's, if any
    visit = visits[0]["visit"]
    assert main(["--db", str(door_db), "assign", str(visit), "benoit"]) == 0
    assert f"visit {visit}: enrolled its face to benoit" in capsys.readouterr().out
    from facerec.api import identify

    assert identify(photo("benoit"), door_db)[0].identity == "benoit"  # the door knows benoit now
    assert main(["--db", str(door_db), "visits"]) == 0
    assert "(reviewed: benoit)" in capsys.readouterr().out


def test_assign_needs_a_name_or_stranger_and_a_known_visit(door_db, capsys):
    assert main(["--db", str(door_db), "assign", "1"]) == 2
    assert main(["--db", str(door_db), "assign", "1", "x", "--stranger"]) == 2
    assert main(["--db", str(door_db), "assign", "999", "--stranger"]) == 2
    assert "no visit 999" in capsys.readouterr().err


def test_the_api_lists_visits_serves_crops_and_this_is_x_enrolls_the_crop(tmp_path):
    from fastapi.testclient import TestClient

    from facerec.server.app import create_app

    path = benoit_at_the_door(tmp_path)
    with TestClient(create_app(path)) as client:
        visits = client.get("/api/visits", params={"limit": 5}).json()
        assert len(visits) == 1 and visits[0]["identity"] is None and visits[0]["review"] is None
        with FaceDatabase(path) as db:
            assert visits == db.visits(5)  # the same objects as facerec visits --json
        visit = visits[0]["visit"]
        crop = client.get(f"/api/visits/{visit}/crop")
        assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(crop.content, np.uint8), cv2.IMREAD_COLOR).shape == (128, 128, 3)
        answer = client.post(f"/api/visits/{visit}/assign", json={"name": "benoit"})
        assert answer.status_code == 200 and answer.json()["enrolled"] == [f"visit-{visit}.jpg"], answer.text
        assert {"name": "benoit", "faces": 1} in client.get("/api/people").json()
        assert client.get("/api/visits").json()[0]["review"]["name"] == "benoit"
        assert client.post(f"/api/visits/{visit}/assign", json={"stranger": True}).json()["stranger"] is True
        assert client.post("/api/visits/999/assign", json={"stranger": True}).status_code == 404
        assert client.get("/api/visits/999/crop").status_code == 404
        assert client.post(f"/api/visits/{visit}/assign", json={}).status_code == 400
        assert client.post(f"/api/visits/{visit}/assign", json={"name": "x", "other": 1}).status_code == 422
    with FaceDatabase(path) as db:
        assert len(db.known_strangers()) == 1


def test_serve_with_a_camera_logs_its_visits_and_stops_with_the_server(tmp_path):
    from fastapi.testclient import TestClient
    from test_door_camera import MjpegServer, door_frame

    from facerec.server.app import create_app

    weights_or_skip()
    path = tmp_path / "faces.sqlite"
    assert main(["--db", str(path), "enroll", "younes", str(photo("younes"))]) == 0
    stream = MjpegServer(door_frame("camera_0"), per_connection=10)
    options = {"detector": "hog", "visit_timeout": 0.5, "give_up": 1.0, "retry": 30.0}
    with TestClient(create_app(path, camera=stream.url, camera_options=options)) as client:
        deadline = time.monotonic() + 60
        while not (visits := client.get("/api/visits").json()) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert [(v["identity"], v["admitted"], v["crop"]) for v in visits] == [("younes", True, True)]
        assert client.get(f"/api/visits/{visits[0]['visit']}/crop").status_code == 200
        door = client.app.state.camera
        started = time.monotonic()
    assert not door._thread.is_alive() and time.monotonic() - started < 15  # stopped with the server
    assert door.visits == 1


# -- the door's speed options ------------------------------------------------------------------------------

def test_a_tracked_face_is_encoded_every_n_th_frame_and_a_new_one_at_once():
    from facerec.api import FaceResult
    from facerec.door import _Reuse

    def result(box, who="anna"):
        return FaceResult("f", box, who, 0.3, 0.5, [], "balanced", "dlib")

    class Box:
        def __init__(self, box):
            self.box = box

    reuse = _Reuse(every=2)
    fresh, kept = reuse.split([Box((100, 100, 200, 200))])
    assert len(fresh) == 1 and kept == []
    reuse.update([result((100, 100, 200, 200))], kept)
    fresh, kept = reuse.split([Box((104, 100, 204, 200)), Box((400, 100, 480, 180))])  # one moved, one new
    assert [f.box for f in fresh] == [(400, 100, 480, 180)] and kept[0][0].box == (104, 100, 204, 200)
    assert kept[0][0].identity == "anna" and kept[0][1] == 1
    shown = reuse.update([result((400, 100, 480, 180), None)], kept)
    assert [r.identity for r in shown] == [None, "anna"]
    fresh, kept = reuse.split([Box((108, 100, 208, 200))])  # its second frame since it was encoded: encode again
    assert len(fresh) == 1 and kept == []
    assert _Reuse(every=1).split([Box((1, 1, 50, 50))])[0] and not _Reuse(every=1).split([Box((1, 1, 50, 50))])[1]


def test_the_door_with_encode_every_2_still_names_the_resident(tmp_path):
    from test_door_camera import door_frame

    from facerec.door import run_door

    weights_or_skip()
    path = tmp_path / "faces.sqlite"
    assert main(["--db", str(path), "enroll", "younes", str(photo("younes"))]) == 0
    video = tmp_path / "door.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (640, 480))
    for shift in range(6):
        writer.write(np.roll(door_frame("camera_0"), 2 * shift, axis=1))
    writer.release()
    report = run_door(video, path, detector="hog", progress=False, encode_every=2, log=False)
    assert [(v["identity"], v["seen"]) for v in report.visits] == [("younes", 3)]
    assert report.encoded == 3 and len(report.faces) == 6
    with pytest.raises(InvalidArgument):
        run_door(video, path, encode_every=0, progress=False)


@pytest.mark.slow
def test_the_stream_benchmark_runs_and_names_its_visit(capsys):
    """``benchmarks/door_stream.py`` on one visit (about 25 s: the stream is paced in real time)."""
    import sys

    from helpers_issue4 import REPO

    weights_or_skip()
    photo("camera_0")  # skips without the Happy House photos
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import door_stream
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    assert door_stream.main(["--visits", "1", "--settings", "hog@1x2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    row = result["settings"][0]
    assert row["visits_found"] == 1 and row["identities_right"] == 1 and row["served"] == 65
    assert row["latency_after_appear_p50"] > 2.0  # a visit is decided when it ends, 2 s after the face left


def test_serve_with_a_video_file_as_camera_reads_it_once(tmp_path):
    from fastapi.testclient import TestClient
    from test_door_camera import door_frame

    from facerec.server.app import create_app

    weights_or_skip()
    path = tmp_path / "faces.sqlite"
    assert main(["--db", str(path), "enroll", "younes", str(photo("younes"))]) == 0
    video = tmp_path / "door.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (640, 480))
    for _ in range(4):
        writer.write(door_frame("camera_0"))
    writer.release()
    with TestClient(create_app(path, camera=str(video), camera_options={"detector": "hog", "retry": 0.1})) as client:
        door = client.app.state.camera
        door._thread.join(60)
        assert not door._thread.is_alive() and door.visits == 1  # read once, not again every retry
        assert [v["identity"] for v in client.get("/api/visits").json()] == ["younes"]


def test_a_known_stranger_joins_the_cohort_of_later_decisions(tmp_path):
    """'Not anyone we know' makes the default decision stricter for that face: the stranger's own encoding is
    now in the cohort, so the probe's cohort distances shrink and its cohort score grows (identify and verify)."""
    from facerec.api import encode_faces, identify, verify

    weights_or_skip()
    path = tmp_path / "faces.sqlite"
    assert main(["--db", str(path), "enroll", "younes", str(photo("younes"))]) == 0
    before = identify(photo("benoit"), path)[0]
    checked_before = verify(photo("benoit"), "younes", path)
    assert before.cohort_score is not None  # the default encoder (dlib) decides with its card's cohort
    encoding = encode_faces(photo("benoit"))[0][0]
    with FaceDatabase(path) as db:
        visit = log_visit(db, ago(0.01), encoding=encoding, fingerprint=db.model_fingerprint)
        db.mark_stranger(visit)
    after = identify(photo("benoit"), path)[0]
    assert after.cohort_score > before.cohort_score and after.identity is None
    assert verify(photo("benoit"), "younes", path).cohort_score > checked_before.cohort_score


def test_a_wide_databases_visits_are_stored_reviewed_and_kept_as_strangers(location):
    """dlib+facenet's 640-d encodings: a visit's face is stored, enrolled by "this is X" and kept as a stranger."""
    from test_wide_encodings import FUSED, wide_records

    rng = np.random.default_rng(8)
    with FaceDatabase(location, encoder=FUSED) as db:
        db.add_faces("anna", wide_records(rng, 1, "anna"), FINGERPRINT, FUSED)
        first, second = (log_visit(db, ago(0.01), encoding=record.encoding, tag=str(i))
                         for i, record in enumerate(wide_records(rng, 2, "visit")))
        assert db.assign_visit(first, "bob").added == [f"visit-{first}.jpg"]
        db.mark_stranger(second)
        assert db.encodings("bob")[0].shape == (1, 640) and db.known_strangers().shape == (1, 640)


def test_a_running_door_decides_with_strangers_reviewed_after_it_started(db):
    """A stranger reviewed at the page (or another door) while a door runs joins its cohort at its next visit."""
    from facerec.cohort import Cohort
    from facerec.door import DoorReport, _Visits
    from facerec.operating_points import Threshold

    rng = np.random.default_rng(5)
    cohort = Cohort(rng.standard_normal((30, 128)).astype(np.float32), k=3, alpha=1.0)
    visits = _Visits(db, Threshold(0.6, "threshold"), DoorReport("cam", None), log=False, keep_log_days=None,
                     timeout=2.0, on_visit=None, cohort=cohort, fingerprint=FINGERPRINT)
    first = visits.gate
    visits._refresh()
    assert visits.gate is first  # nothing changed: the same rule
    db.mark_stranger(log_visit(db, ago(0.01), encoding=rng.standard_normal(128)))
    visits._refresh()
    assert visits.gate is not first
