"""Two encoders behind one interface; a database records its encoder, uses it, and refuses the other."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from helpers_issue4 import photo, weights_or_skip

import facerec
from facerec.cli import main
from facerec.database import FaceDatabase
from facerec.encoders import DEFAULT_ENCODER, ENCODERS, load_encoder
from facerec.exceptions import InvalidArgument, ModelMismatch


@pytest.fixture(scope="module")
def encoders() -> dict:
    weights_or_skip()
    return {name: load_encoder(name) for name in ENCODERS}


def test_every_encoder_has_a_name_a_fingerprint_a_card_and_encodes_detected_faces(encoders):
    rgb, faces = facerec.find_faces(photo("younes"))
    for name, encoder in encoders.items():
        assert encoder.name == name and len(encoder.fingerprint) == 64
        card = encoder.card()
        assert card["encoder"] == name and card["fingerprint"] == encoder.fingerprint
        width = sum(encoder.blocks)  # each encoder declares its width: 128, or 640 for dlib+facenet
        assert width == card.get("encoding_size", 128)
        encodings = encoder.encode_faces(rgb, faces)
        assert encodings.shape == (len(faces), width) and encodings.dtype == np.float32
        assert encoder.encode_faces(rgb, []).shape == (0, width)


def test_each_encoder_recognises_younes_at_the_door(encoders):
    for encoder in encoders.values():
        [door], _ = facerec.encode_faces(photo("camera_0"), encoder=encoder)
        residents = {n: facerec.encode_faces(photo(n), encoder=encoder)[0][0] for n in ("younes", "kian", "dan")}
        distance = {n: facerec.face_distance(residents[n][None], door, encoder.blocks)[0] for n in residents}
        assert min(distance, key=distance.get) == "younes"


def test_the_default_encoder_is_dlib_and_an_unknown_name_is_refused():
    assert DEFAULT_ENCODER == "dlib"
    with pytest.raises(InvalidArgument, match="unknown encoder 'vgg'"):
        load_encoder("vgg")


def test_a_database_records_its_encoder_and_later_calls_use_it(tmp_path, encoders):
    path = tmp_path / "faces.sqlite"
    with FaceDatabase(path, encoder="nn4") as db:
        assert db.encoder_name == "nn4"
        db.enroll("younes", [photo("younes")])
        assert db.model_fingerprint == encoders["nn4"].fingerprint
    with FaceDatabase(path) as db:
        assert db.load_encoder() is encoders["nn4"]
        [face] = facerec.identify(photo("camera_0"), db, operating_point="balanced")
    assert face.encoder == "nn4" and face.identity == "younes"


def test_a_database_refuses_the_other_encoder(tmp_path, encoders):
    path = tmp_path / "faces.sqlite"
    with FaceDatabase(path, encoder="dlib") as db:
        db.enroll("younes", [photo("younes")])
    with pytest.raises(ModelMismatch, match="holds dlib encodings.*leave out --encoder"):
        FaceDatabase(path, encoder="nn4")
    with FaceDatabase(path) as db:
        with pytest.raises(ModelMismatch, match="holds dlib encodings"):
            facerec.identify(photo("camera_0"), db, encoder=encoders["nn4"])
        with pytest.raises(ModelMismatch, match="holds dlib encodings"):
            facerec.verify(photo("camera_0"), "younes", db, encoder=encoders["nn4"])
        with pytest.raises(ModelMismatch, match="holds dlib encodings"):
            db.enroll("kian", [photo("kian")], encoder=encoders["nn4"])
        assert db.names() == ["younes"]


def test_a_database_without_an_encoder_row_is_an_nn4_database(tmp_path, encoders):
    path = tmp_path / "old.sqlite"
    with FaceDatabase(path, encoder="nn4") as db:
        db.enroll("younes", [photo("younes")])
    with sqlite3.connect(path) as connection:  # as written by facerec before encoders were named
        connection.execute("DELETE FROM meta WHERE key = 'encoder'")
    with FaceDatabase(path) as db:
        assert db.encoder_name == "nn4" and db.load_encoder().name == "nn4"


def test_the_command_line_takes_the_encoder_from_the_database_and_refuses_the_other(tmp_path, capsys, encoders):
    db = str(tmp_path / "faces.sqlite")
    assert main(["--db", db, "--encoder", "nn4", "enroll", "younes", str(photo("younes"))]) == 0
    capsys.readouterr()
    assert main(["--db", db, "--json", "identify", str(photo("camera_0")), "--operating-point", "balanced"]) == 0
    [face] = json.loads(capsys.readouterr().out)
    assert face["encoder"] == "nn4" and face["identity"] == "younes"
    assert main(["--db", db, "--encoder", "dlib", "identify", str(photo("camera_0"))]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert out == "" and len(lines) == 1 and lines[0].startswith("facerec: error: ") and "holds nn4 encodings" in err
    assert main(["--db", db, "--encoder", "dlib", "enroll", "kian", str(photo("kian"))]) == 2
    with FaceDatabase(db) as opened:
        assert opened.names() == ["younes"]


def test_siamese_heads_are_nn4_only(tmp_path, encoders):
    with FaceDatabase(tmp_path / "faces.sqlite", encoder="dlib") as db:
        db.enroll("younes", [photo("younes")])
        with pytest.raises(InvalidArgument, match="trained on nn4 encodings"):
            facerec.verify(photo("camera_0"), "younes", db, method="head-abs")


def test_an_encodings_cache_round_trips_and_ignores_a_file_made_another_way(tmp_path):
    import numpy as np

    from facerec.encoders.cache import read_encodings, write_encodings

    cache = tmp_path / "datasets" / "x_facenet.h5"
    assert read_encodings(cache) == {}
    known = {"b/2.jpg": np.arange(4, dtype=np.float32), "a/1.jpg": np.ones(4, np.float32)}
    write_encodings(cache, known, {"crop": "chip-0.4"})
    again = read_encodings(cache, {"crop": "chip-0.4"})
    assert sorted(again) == ["a/1.jpg", "b/2.jpg"] and all(np.array_equal(again[k], known[k]) for k in known)
    assert read_encodings(cache, {"crop": "box-0.2"}) == {}  # made with another crop: encoded again
    assert list(cache.parent.iterdir()) == [cache]  # no temporary file left
