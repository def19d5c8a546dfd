"""Encodings wider than 128 floats (issue 23, item 6): stored, searched and refused on both engines.

The ``location`` fixture (tests/conftest.py) runs each store test on SQLite and on PostgreSQL (skipped when
PostgreSQL is not installed). 128-d databases keep their schema byte for byte: no migration.
"""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import pytest
from helpers_issue4 import FINGERPRINT, random_records

from facerec.api import face_distance
from facerec.database import FaceDatabase, FaceRecord
from facerec.distances import block_distance, pairwise_distances
from facerec.exceptions import EncodingSizeMismatch, InvalidArgument, ModelMismatch
from facerec.search import make_search
from facerec.stores.dump import migrate

FUSED = "dlib+facenet"
BLOCKS = (128, 512)


def wide_records(rng: np.random.Generator, count: int, prefix: str = "photo") -> list[FaceRecord]:
    """``count`` records of 640-d encodings: a unit dlib-like and a unit FaceNet-like part, each scaled."""
    parts = [rng.standard_normal((count, width)).astype(np.float32) for width in BLOCKS]
    vectors = np.concatenate([p / np.linalg.norm(p, axis=1, keepdims=True) for p in parts], axis=1)
    return [FaceRecord(v, f"{prefix}_{i}.jpg", hashlib.sha256(v.tobytes()).hexdigest(), (i, i, i + 10, i + 10))
            for i, v in enumerate(vectors)]


def test_block_distance_is_the_sum_of_each_blocks_l2_distance():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 5, 640))
    expected = np.linalg.norm(a[:, :128] - b[:, :128], axis=1) + np.linalg.norm(a[:, 128:] - b[:, 128:], axis=1)
    np.testing.assert_allclose(block_distance(a, b, BLOCKS), expected, rtol=1e-12)
    np.testing.assert_allclose(pairwise_distances(a, b, BLOCKS).diagonal(), expected, rtol=1e-9)
    np.testing.assert_allclose(face_distance(b, a[0], BLOCKS), block_distance(b, a[0], BLOCKS), rtol=1e-5)
    with pytest.raises(InvalidArgument):
        face_distance(b, a[0])  # 640-d without blocks: say which layout
    with pytest.raises(InvalidArgument):
        block_distance(a, b, (128, 500))


@pytest.mark.parametrize("backend", ["exact", "faiss-flat", "faiss-hnsw"])
def test_every_search_backend_finds_the_nearest_people_by_the_block_distance(backend):
    rng = np.random.default_rng(2)
    gallery = rng.standard_normal((600, 640)).astype(np.float32)
    ids = np.repeat(np.arange(200), 3)
    queries = gallery[::37] + 0.3 * rng.standard_normal((len(gallery[::37]), 640)).astype(np.float32)
    distances, people = make_search(gallery, ids, backend, blocks=BLOCKS).search(queries, 3)
    full = pairwise_distances(queries, gallery, BLOCKS)
    for row in range(len(queries)):
        best = {}
        for column in np.argsort(full[row], kind="stable"):
            best.setdefault(int(ids[column]), full[row, column])
        expected = sorted(best.items(), key=lambda item: item[1])[:3]
        assert people[row].tolist() == [p for p, _ in expected]
        np.testing.assert_allclose(distances[row], [d for _, d in expected], rtol=1e-4)


def test_a_narrow_search_refuses_wide_queries():
    rng = np.random.default_rng(3)
    with pytest.raises(InvalidArgument):
        make_search(rng.standard_normal((4, 128)), np.arange(4)).search(rng.standard_normal((1, 640)))


def test_a_wide_database_records_its_width_and_round_trips(location):
    rng = np.random.default_rng(4)
    records = wide_records(rng, 3)
    with FaceDatabase(location, encoder=FUSED) as db:
        assert db.encoding_size == 640
        db.add_faces("younes", records, FINGERPRINT, FUSED)
        db.add_faces("kian", wide_records(rng, 2, "kian"), FINGERPRINT, FUSED)
    with FaceDatabase(location, create=False) as db:
        assert db.encoder_name == FUSED and db.encoding_blocks == BLOCKS and db.encoding_size == 640
        assert db._meta("encoding_size") == "640" and db._meta("encoding_blocks") == "128+512"
        encodings, _ = db.encodings("younes")
        np.testing.assert_array_equal(encodings, np.stack([r.encoding for r in records]))
        for backend in ("exact", "faiss-flat"):
            distances, ids = db.searcher(backend).search(records[1].encoding, 2)
            assert db.names_by_id()[int(ids[0, 0])] == "younes" and distances[0, 0] == pytest.approx(0, abs=1e-5)
        record, _ = db.export_person("younes")
        assert len(record["faces"][0]["encoding"]) == 640


def test_a_wide_database_refuses_narrow_encodings_and_the_reverse(location):
    rng = np.random.default_rng(5)
    with FaceDatabase(location, encoder=FUSED) as db:
        db.add_faces("younes", wide_records(rng, 1), FINGERPRINT, FUSED)
        with pytest.raises(EncodingSizeMismatch, match="640-d"):
            db.add_faces("kian", random_records(rng, 1), FINGERPRINT, FUSED)
        with pytest.raises(ModelMismatch):
            db.add_faces("kian", random_records(rng, 1), FINGERPRINT, "dlib")
        assert db.count_faces() == 1


def test_a_narrow_database_refuses_wide_encodings(location):
    rng = np.random.default_rng(6)
    with FaceDatabase(location) as db:
        db.add_faces("younes", random_records(rng, 1), FINGERPRINT, "dlib")
        with pytest.raises(EncodingSizeMismatch, match="128-d"):
            db.add_faces("kian", wide_records(rng, 1), FINGERPRINT, "dlib")
        assert db.count_faces() == 1 and db.encoding_size == 128
        assert db._meta("encoding_size") is None and db._meta("encoding_blocks") is None  # 128-d: no new rows


def test_an_empty_narrow_database_cannot_be_rebound_to_a_wide_encoder(tmp_path):
    path = tmp_path / "faces.sqlite"
    with FaceDatabase(path, encoder="dlib") as db:
        db.add_faces("younes", random_records(np.random.default_rng(7), 1), FINGERPRINT, "dlib")
        db.remove("younes")
    with pytest.raises(EncodingSizeMismatch):
        FaceDatabase(path, encoder=FUSED)


def test_a_128_d_database_keeps_its_schema_byte_for_byte(tmp_path):
    path = tmp_path / "faces.sqlite"
    with FaceDatabase(path) as db:
        db.add_faces("younes", random_records(np.random.default_rng(8), 1), FINGERPRINT, "dlib")
    connection = sqlite3.connect(path)
    faces_sql = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'faces'").fetchone()[0]
    keys = {row[0] for row in connection.execute("SELECT key FROM meta")}
    connection.close()
    assert "length(encoding) = 512)" in faces_sql
    assert not keys & {"encoding_size", "encoding_blocks"}


def test_a_wide_database_migrates_between_engines(postgres, tmp_path):
    rng = np.random.default_rng(9)
    source, back = tmp_path / "wide.sqlite", tmp_path / "back.sqlite"
    with FaceDatabase(source, encoder=FUSED) as db:
        db.add_faces("younes", wide_records(rng, 2), FINGERPRINT, FUSED)
    url = postgres.url()
    migrate(source, url)
    migrate(url, back)
    for location in (url, back):
        with FaceDatabase(location, create=False) as db:
            assert db.encoding_blocks == BLOCKS
            np.testing.assert_array_equal(db.encodings()[0], FaceDatabase(source, create=False).encodings()[0])
