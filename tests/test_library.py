"""The photo library: index (incremental, resume, duplicates), grouping scores, naming, "not X", find.

The database tests run on both engines (the ``location`` fixture of tests/conftest.py: SQLite, PostgreSQL).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facerec.database import FaceDatabase
from facerec.library import index as library_index
from facerec.library.grouping import bcubed, cluster, nearest, pairwise

PEOPLE = {"Aaron_Peirsol": 3, "Abdullah_Gul": 3}


@pytest.fixture()
def photos(assets: Path, tmp_path: Path) -> Path:
    """A folder of 6 LFW photos of 2 people (one a subfolder each) and a copy of one of them."""
    folder = tmp_path / "photos"
    for person, count in PEOPLE.items():
        (folder / person).mkdir(parents=True)
        for i in range(1, count + 1):
            shutil.copy(assets / "lfw" / person / f"{person}_{i:04d}.jpg", folder / person)
    shutil.copy(folder / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg", folder / "copy.jpg")
    return folder


def _index(db: FaceDatabase, folder: Path, **options) -> library_index.IndexReport:
    return library_index.index(db, [folder], workers=1, detector="hog", **options)


def test_index_is_incremental_and_encodes_duplicates_once(photos: Path, location) -> None:
    with FaceDatabase(location) as db:
        first = _index(db, photos)
        assert (first.photos, first.encoded, first.duplicates, first.failed) == (7, 6, 1, [])
        assert first.faces >= 6
        assert db.library_sql.counts(db)["photos"] == 7 and db.library_sql.counts(db)["contents"] == 6
        again = _index(db, photos)
        assert (again.encoded, again.unchanged, again.removed) == (0, 7, 0)
        (photos / "copy.jpg").unlink()
        shutil.copy(photos / "Abdullah_Gul" / "Abdullah_Gul_0003.jpg", photos / "Aaron_Peirsol" / "x.jpg")
        (photos / "Abdullah_Gul" / "Abdullah_Gul_0003.jpg").unlink()
        moved = _index(db, photos)
        assert (moved.encoded, moved.removed, moved.duplicates) == (0, 2, 1)  # a moved file is not encoded again
        assert db.library_sql.counts(db)["contents"] == 6
        (photos / "Abdullah_Gul" / "Abdullah_Gul_0002.jpg").unlink()
        gone = _index(db, photos)
        assert gone.removed == 1 and db.library_sql.counts(db)["contents"] == 5  # its faces are forgotten too
        assert db.encoder_name == "dlib"


def test_an_interrupted_index_resumes_where_it_stopped(photos: Path, location, monkeypatch) -> None:
    real, calls = library_index.encode_content, []

    def flaky(job):
        calls.append(job[0])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(library_index, "encode_content", flaky)
    with FaceDatabase(location) as db:
        with pytest.raises(KeyboardInterrupt):
            _index(db, photos, batch=2)
        assert db.library_sql.counts(db)["contents"] == 2  # the first batch of two was committed
        monkeypatch.setattr(library_index, "encode_content", real)
        resumed = _index(db, photos)
        assert resumed.encoded == 4 and db.library_sql.counts(db)["contents"] == 6


def test_nearest_is_the_exact_closest_row() -> None:
    rng = np.random.default_rng(1)
    queries, gallery = rng.normal(size=(50, 128)), rng.normal(size=(30, 128))
    distances, rows = nearest(queries, gallery, block=16)
    exact = np.linalg.norm(queries[:, None] - gallery[None], axis=2)
    assert (rows == exact.argmin(axis=1)).all() and np.allclose(distances, exact.min(axis=1), atol=1e-4)


def test_grouping_scores() -> None:
    assert bcubed([0, 0, 1, 1], [5, 5, 7, 7]) == (1.0, 1.0, 1.0)
    precision, recall, f = pairwise([0, 0, 1, 1], [0, 0, 0, 0])
    assert (precision, recall) == (pytest.approx(1 / 3), 1.0)
    assert bcubed([0, 0, 1, 1], [0, 1, 2, 3])[:2] == (1.0, 0.5)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 128)).astype(np.float32)
    points = np.repeat(centres, 4, axis=0) + rng.normal(scale=0.01, size=(12, 128)).astype(np.float32)
    for method in ("chinese-whispers", "dbscan", "agglomerative", "hdbscan"):
        labels = cluster(points, method, threshold=0.5, min_faces=2)
        assert bcubed(np.repeat(np.arange(3), 4), labels)[2] == pytest.approx(1.0), method


def _group_of(groups: list[dict], photo_part: str) -> dict:
    return next(g for g in groups if any(photo_part in f["photo"] for f in g["faces"]))


def test_cluster_name_maybe_not_and_find(photos: Path, location) -> None:
    from facerec.api import identify
    from facerec.library import people

    with FaceDatabase(location) as db:
        _index(db, photos)
        assert people.group_faces(db)["grouped"] >= 6
        groups = people.groups(db)
        assert [len(g["faces"]) for g in groups] == sorted((len(g["faces"]) for g in groups), reverse=True)
        aaron = _group_of(groups, "Aaron_Peirsol_0001")
        assert all("Aaron" in f["photo"] or "copy" in f["photo"] for f in aaron["faces"])
        face = {Path(f["photo"]).name[-8:-4]: f["face"] for f in aaron["faces"]}
        assert sorted(face) == ["0001", "0002", "0003"]  # the copy's face is the original's: one face
        people.move(db, face["0002"], 999)
        people.move(db, face["0003"], 999)
        result = people.name_group(db, aaron["group"], "Aaron")
        assert result == {"name": "Aaron", "faces": 1, "enrolled": 1, "left_out": 0}
        assert db.count_faces() == 1 and db.thumbnail("Aaron")
        maybe = _group_of(people.groups(db), "Aaron_Peirsol")
        assert maybe["group"] == 999 and maybe["maybe"] == "Aaron"
        people.not_person(db, face["0003"], "Aaron")
        assert people.name_group(db, 999, "Aaron")["left_out"] == 1  # the face ruled "not Aaron" stays out
        assert db.count_faces() == 2
        found = {Path(hit["photo"]).name for hit in people.find(db, "Aaron")}
        assert found == {"Aaron_Peirsol_0001.jpg", "copy.jpg", "Aaron_Peirsol_0002.jpg"}
        door = identify(photos / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg", db)
        assert door[0].identity == "Aaron"  # named faces are enrolled faces
        people.not_person(db, face["0001"], "Aaron")  # a named face unnamed: its enrolled encoding goes too
        assert db.count_faces() == 1
        assert [w["name"] for w in people.who(db, str(photos / "copy.jpg"))] == [None]


def test_cli_index_cluster_name_find_json(photos: Path, location, capsys) -> None:
    import json

    from facerec.cli import main

    db = str(location)
    assert main(["--db", db, "index", str(photos), "--workers", "1", "--detector", "hog", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["encoded"] == 6
    assert main(["--db", db, "cluster", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert len(groups) == 2 and all(len(g["faces"]) == 3 for g in groups)
    assert set(groups[0]) >= {"group", "faces"} and set(groups[0]["faces"][0]) >= {"photo", "box"}
    assert len(groups[0]["faces"][0]["box"]) == 4
    aaron = _group_of(groups, "Aaron_Peirsol")
    assert main(["--db", db, "name", str(aaron["group"]), "Aaron"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "find", "Aaron", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert {Path(h["photo"]).name for h in hits} == {f"Aaron_Peirsol_000{i}.jpg" for i in (1, 2, 3)} | {"copy.jpg"}
    assert all(set(h) == {"photo", "box", "distance"} and h["distance"] == 0 for h in hits)
    assert main(["--db", db, "people", "--groups", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["groups"]) == 1
    assert main(["--db", db, "who", str(photos / "copy.jpg"), "--json"]) == 0
    assert [w["name"] for w in json.loads(capsys.readouterr().out)] == ["Aaron"]
    assert main(["--db", db, "move", "1", "x"]) == 2


def test_rest_routes_group_name_not_find(photos: Path, location) -> None:
    from fastapi.testclient import TestClient

    from facerec.server.app import create_app

    with FaceDatabase(location) as db:
        _index(db, photos)
    with TestClient(create_app(location, token="library-admin-token")) as client:
        assert client.get("/api/library/groups").status_code == 401
        auth = {"Authorization": "Bearer library-admin-token"}
        groups = client.post("/api/library/cluster", headers=auth).json()["groups"]
        assert [len(g["faces"]) for g in groups] == [3, 3]
        aaron = _group_of(groups, "Aaron_Peirsol")
        crop = client.get(f"/api/library/faces/{aaron['faces'][0]['face']}/crop", headers=auth)
        assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
        out = aaron["faces"][2]["face"]
        assert client.post(f"/api/library/faces/{out}/move", data={"group": "none"}, headers=auth).json() == {
            "face": out, "group": None}
        named = client.post(f"/api/library/groups/{aaron['group']}/name", data={"name": "Aaron"}, headers=auth)
        assert named.json() == {"name": "Aaron", "faces": 2, "enrolled": 2, "left_out": 0}
        assert client.post(f"/api/library/faces/{out}/not", data={"name": "Aaron"}, headers=auth).status_code == 200
        hits = client.get("/api/library/find", params={"name": "Aaron"}, headers=auth).json()
        assert len(hits) == 3 and all(h["distance"] == 0 for h in hits)  # 0001, its copy, 0002 (or 0003)
        assert len(client.get("/api/library/groups", headers=auth).json()["groups"]) == 1
        other = groups[0]["group"] if groups[0] is not aaron else groups[1]["group"]
        bad = client.post(f"/api/library/groups/{other}/merge", data={"other": "0"}, headers=auth)
        assert bad.status_code in (400, 422)


def test_index_through_a_local_dask_cluster_of_two_workers(photos: Path, location, capsys) -> None:
    import json

    pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install -r requirements.txt)")
    from facerec.cli import main
    from facerec.library.distributed import local_cluster

    with local_cluster(2) as cluster:
        assert len(cluster.workers) == 2
        assert main(["--db", str(location), "index", str(photos), "--detector", "hog", "--json",
                     "--cluster", cluster.scheduler_address]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["encoded"], report["duplicates"], report["failed"]) == (6, 1, [])
    with FaceDatabase(location) as db:
        assert db.library_sql.counts(db)["contents"] == 6
        local = _index(db, photos)
        assert local.encoded == 0 and local.unchanged == 7


def test_naming_a_group_on_postgres_reaches_every_door(postgres, tmp_path: Path) -> None:
    """Naming is an enrollment (one transaction, then NOTIFY): another door knows the person at once; unnaming the
    face ("not X") removes its enrolled encoding there too."""
    from helpers_issue4 import FINGERPRINT, random_records
    from test_stores import wait_for

    from facerec.library import people
    from facerec.stores.sqlite_library import EncodedContent, PhotoState

    url, rng = postgres.url(), np.random.default_rng(3)
    vectors = rng.standard_normal((2, 128)).astype(np.float32)
    with FaceDatabase(url, door="front", queue=tmp_path / "f.jsonl") as front, \
            FaceDatabase(url, door="back", queue=tmp_path / "b.jsonl") as back:
        contents = [EncodedContent(sha * 64, 100, 100, np.array([[0, 0, 40, 40]]), vectors[i:i + 1], np.array([1.0]))
                    for i, sha in enumerate("de")]
        front.library_sql.save(front, [(str(tmp_path / f"{c.sha256[0]}.jpg"), PhotoState(1, 1.0, c.sha256))
                                       for c in contents], contents, "2026-01-01T00:00:00+00:00", ("dlib", FINGERPRINT))
        front.add_faces("Bob", random_records(rng, 1), FINGERPRINT, "dlib")
        assert wait_for(lambda: len(back.searcher()) == 1)  # the back door's gallery is loaded and watching
        faces = front.library_sql.faces(front).ids.tolist()
        front.library_sql.set_groups(front, {face: 5 for face in faces})
        assert people.name_group(front, 5, "Ada") == {"name": "Ada", "faces": 2, "enrolled": 2, "left_out": 0}
        assert wait_for(lambda: len(back.searcher()) == 3) and "Ada" in back.names_by_id().values()
        people.not_person(back, faces[0], "Ada")
        assert wait_for(lambda: len(front.searcher()) == 2) and front.library_sql.not_rules(front) == {
            (faces[0], front.person_id("Ada"))}


def test_the_library_refuses_a_wide_database_on_either_engine_for_its_width_only(location, tmp_path: Path) -> None:
    """The grouping and matching distances are plain L2 at thresholds measured on dlib's 128-d encodings: a 640-d
    database (block distances) is refused, saying what to use instead; the engine is no reason any more."""
    from facerec.exceptions import InvalidArgument

    with FaceDatabase(location, encoder="dlib+facenet") as db:
        with pytest.raises(InvalidArgument, match="holds 128-float encodings.*makes 640; index into a dlib or nn4"):
            library_index.index(db, [tmp_path], workers=1, detector="hog")
    with FaceDatabase(location) as db:
        db.library_sql.check_supported(db)  # a 128-d database on this engine: accepted


def test_both_engines_library_modules_have_the_same_functions() -> None:
    from facerec.stores import postgres_library, sqlite_library
    from facerec.stores.base import LibrarySql

    assert isinstance(sqlite_library, LibrarySql) and isinstance(postgres_library, LibrarySql)
    public = [{n for n in dir(m) if not n.startswith("_") and callable(getattr(m, n))}
              for m in (sqlite_library, postgres_library)]
    assert public[0] - {"dataclass", "sqlite3"} == public[1]
