"""Many doors on one PostgreSQL: each sees the others' enrollments, and keeps working while the server is away.

Each door is a FaceDatabase of its own (its own connections and gallery watcher, as a door process has).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from helpers_issue4 import FINGERPRINT, random_records
from test_stores import wait_for

from facerec.database import DoorEvent, FaceDatabase, now_utc
from facerec.exceptions import DatabaseUnreachable
from facerec.stores.sqlite_visits import VisitRecord


@pytest.fixture
def own_postgres():
    """A cluster of this test's own, to be killed and restarted."""
    from helpers_postgres import skip_unless_required, start_cluster

    cluster, reason = start_cluster()
    if cluster is None:
        skip_unless_required(reason)
    yield cluster
    cluster.stop()


def event(who: str | None) -> DoorEvent:
    return DoorEvent(now_utc(), who, 0.3 if who else 0.9, who is not None, "cam.jpg")


def test_two_doors_see_each_other_enrollment_and_log_into_one_log(postgres, tmp_path):
    url, rng = postgres.url(), np.random.default_rng(0)
    with FaceDatabase(url, door="front", queue=tmp_path / "front.jsonl") as front, \
            FaceDatabase(url, door="back", queue=tmp_path / "back.jsonl") as back:
        front.add_faces("kian", random_records(rng, 1, "kian"), FINGERPRINT, "dlib")
        assert len(front.searcher()) == 1 and wait_for(lambda: len(back.searcher()) == 1)
        delays = []
        for i in range(20):
            started = time.monotonic()
            back.add_faces(f"p{i}", random_records(rng, 1, f"p{i}"), FINGERPRINT)
            assert wait_for(lambda i=i: len(front.searcher()) == i + 2)
            delays.append(time.monotonic() - started)
        assert front.names_by_id() == back.names_by_id() and max(delays) < 2.0
        for door in (front, back):  # added rows loaded one change at a time: the same gallery as a full load
            np.testing.assert_array_equal(door.searcher().encodings, door.encodings()[0])
            np.testing.assert_array_equal(door.searcher().person_ids, door.encodings()[1])
        front.remove("kian")
        assert wait_for(lambda: len(back.searcher()) == 20) and "kian" not in back.names_by_id().values()
        back.add_faces("p3", random_records(rng, 2, "p3b"), FINGERPRINT)  # more photos of someone known
        assert wait_for(lambda: len(front.searcher()) == 22) and front.names_by_id() == back.names_by_id()
        front.log_events([event("p1")])
        back.log_events([event(None)])
        assert back.door_names() == [("back", 1), ("front", 1)]


def test_a_door_keeps_deciding_and_loses_no_log_row_while_postgres_is_killed(own_postgres, tmp_path):
    url, rng = own_postgres.url(), np.random.default_rng(1)
    queue = tmp_path / "queue.jsonl"
    with FaceDatabase(url) as admin, FaceDatabase(url, door="front", queue=queue) as door:
        admin.add_faces("kian", random_records(rng, 2, "kian"), FINGERPRINT, "dlib")
        search = door.searcher()
        door.log_events([event("kian")])
        own_postgres.kill()  # mid-visit: the next rows have nowhere to go
        assert wait_for(lambda: door.store_state()["store"] == "offline")
        assert door.searcher() is search and door.names_by_id() and door.count_faces() == 2
        door.check_model(FINGERPRINT, "dlib")  # the identify path's checks answer from memory
        for who in ("kian", None, "kian"):
            door.log_events([event(who)])
        assert door.store_state() == {"store": "offline", "queued": 3}
        with pytest.raises(DatabaseUnreachable, match="cannot reach"):
            admin.add_faces("younes", random_records(rng, 1), FINGERPRINT)  # enrollment fails clearly
        own_postgres.start()
        admin.add_faces("younes", random_records(rng, 1), FINGERPRINT)  # possibly before the door reconnects
        assert wait_for(lambda: door.store_state() == {"store": "online", "queued": 0}, 15)
        assert wait_for(lambda: len(door.searcher()) == 3)  # the change missed while away: a full reload
        assert [e.identity for e in admin.door_log()] == ["kian", None, "kian", "kian"]


def test_rows_sent_twice_are_stored_once(postgres, tmp_path):
    url, queue = postgres.url(), tmp_path / "queue.jsonl"
    with FaceDatabase(url, door="front", queue=queue) as door:
        door.add_faces("kian", random_records(np.random.default_rng(2), 1, "kian"), FINGERPRINT, "dlib")
        door.log_events([event("kian"), event(None)], keys=["k1", "k2"])
        rows = [{"time": now_utc(), "identity": "kian", "distance": 0.3, "admitted": True, "source": "cam.jpg",
                 "door": "front", "event_key": key} for key in ("k1", "k2", "k3")]
        queue.write_text("".join(json.dumps(row) + "\n" for row in rows) + '{"torn')  # a crash before emptying
        assert door.flush_queue() == 3 and not queue.exists()
        assert len(door.door_log()) == 3


def test_health_says_offline_while_postgres_is_away(own_postgres, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    from helpers_issue4 import weights_or_skip

    from facerec.server.app import create_app

    weights_or_skip()
    url = own_postgres.url()
    monkeypatch.setenv("FACEREC_QUEUE_DIR", str(tmp_path))
    with FaceDatabase(url) as admin:
        admin.add_faces("kian", random_records(np.random.default_rng(3), 1, "kian"), FINGERPRINT, "dlib")
    app = create_app(url)
    with TestClient(app) as client:
        app.state.service.db.searcher()  # the server's gallery is loaded (as by its first identify)
        assert client.get("/api/health").json()["status"] == "ok"
        own_postgres.kill()
        assert wait_for(lambda: client.get("/api/health").json()["status"] == "offline")
        body = client.get("/api/health").json()
        assert body["people"] == 1 and body["log"] == "queued" and body["queued"] == 0
        assert client.get("/api/people").status_code == 503
        own_postgres.start()
        assert wait_for(lambda: client.get("/api/health").json()["status"] == "ok", 15)


def visit_record(tag: str, vector: np.ndarray) -> tuple[DoorEvent, VisitRecord]:
    """A stranger's visit (its door-log row and its record, with a crop holding ``tag``)."""
    start = now_utc()
    line = {"visit": 1, "start": start, "end": start, "identity": None, "admitted": False, "distance": 0.9,
            "frames": 4, "flat": None}
    return (DoorEvent(start, None, 0.9, False, "cam"),
            VisitRecord(line, b"CROP-" + tag.encode(), np.asarray(vector, "<f4").tobytes(), FINGERPRINT))


def test_a_visit_reviewed_at_one_door_is_known_at_the_other(postgres, tmp_path):
    url, rng = postgres.url(), np.random.default_rng(3)
    with FaceDatabase(url, door="front", queue=tmp_path / "front.jsonl") as front, \
            FaceDatabase(url, door="back", queue=tmp_path / "back.jsonl") as back:
        front.add_faces("kian", random_records(rng, 1, "kian"), FINGERPRINT, "dlib")
        assert len(front.searcher()) == 1 and wait_for(lambda: len(back.searcher()) == 1)
        row, record = visit_record("bob", rng.standard_normal(128))
        visit = front.log_events([row], visit=record)
        assert back.visits()[0]["visit"] == visit and back.visit_crop(visit) == b"CROP-bob"
        back.assign_visit(visit, "bob")  # "this is bob" at the back door: the front door knows bob (NOTIFY)
        assert wait_for(lambda: len(front.searcher()) == 2) and "bob" in front.names_by_id().values()
        assert front.visit(visit)["review"]["name"] == "bob"
        row, record = visit_record("x", rng.standard_normal(128))
        other = back.log_events([row], visit=record)
        front.mark_stranger(other)
        assert len(back.known_strangers()) == 1


def test_a_visit_logged_while_postgres_is_away_is_sent_once_with_its_crop(own_postgres, tmp_path):
    url, rng = own_postgres.url(), np.random.default_rng(4)
    queue = tmp_path / "queue.jsonl"
    with FaceDatabase(url) as admin, FaceDatabase(url, door="front", queue=queue) as door:
        admin.add_faces("kian", random_records(rng, 2, "kian"), FINGERPRINT, "dlib")
        door.searcher()
        own_postgres.kill()
        assert wait_for(lambda: door.store_state()["store"] == "offline")
        vector = rng.standard_normal(128).astype(np.float32)
        row, record = visit_record("away", vector)
        assert door.log_events([row], visit=record) is None  # queued: its id comes when it is sent
        assert door.store_state() == {"store": "offline", "queued": 1}
        saved = queue.read_text()
        own_postgres.start()
        assert wait_for(lambda: door.store_state() == {"store": "online", "queued": 0}, 15)
        queue.write_text(saved)  # a crash before the queue was emptied: sent again
        assert door.flush_queue() == 1
        visits = admin.visits()
        assert len(visits) == 1 and len(admin.door_log()) == 1
        assert admin.visit_crop(visits[0]["visit"]) == b"CROP-away"
        admin.mark_stranger(visits[0]["visit"])
        np.testing.assert_array_equal(admin.known_strangers()[0], vector)
