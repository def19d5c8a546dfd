"""The ``facerec`` command: every subcommand, its JSON output, exit codes and error lines.

Commands run in-process through ``facerec.cli.main`` (the model loads once);
a few run as real processes to check what a shell sees.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers_issue4 import RESIDENTS, empty_database, happy_house, photo, subprocess_env, weights_or_skip

from facerec.cli import main
from facerec.database import FaceDatabase


@pytest.fixture(scope="module")
def weights():
    """The default weights folder ($FACEREC_WEIGHTS or weights/); tests that load the model skip without it."""
    return str(weights_or_skip())


@pytest.fixture
def run(capsys):
    """``run(*args) -> (exit code, stdout, stderr)``; the model is the default one (see ``weights``)."""

    def runner(*args: str) -> tuple[int, str, str]:
        code = main([str(arg) for arg in args])
        out, err = capsys.readouterr()
        return code, out, err

    return runner


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, weights):
    """A database with younes, kian and tian enrolled through the command line."""
    path = tmp_path_factory.mktemp("cli") / "faces.sqlite"
    for name in ("younes", "kian", "tian"):
        assert main(["--db", str(path), "enroll", name, str(photo(name))]) == 0
    return path


def assert_one_error_line(err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("facerec: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_enroll_reports_what_it_stored(run, tmp_path, weights):
    folder = tmp_path / "felix_photos"
    folder.mkdir()
    shutil.copy(photo("felix"), folder / "a.jpg")
    shutil.copy(photo("camera_0"), folder / "b.jpg")
    code, out, _ = run("--db", tmp_path / "db.sqlite", "--json", "enroll", "felix", folder)
    assert code == 0
    assert json.loads(out) == {"name": "felix", "added": ["a.jpg", "b.jpg"], "duplicates": [], "failed": [],
                               "photos": 2, "encoder": "dlib"}
    code, out, _ = run("--db", tmp_path / "db.sqlite", "enroll", "felix", folder / "a.jpg")
    assert code == 0 and "enrolled 0 of 1 photo(s) of felix" in out and "a.jpg: already enrolled, skipped" in out


def test_people_lists_names_and_photo_counts(run, enrolled):
    code, out, _ = run("--db", enrolled, "people", "--json")
    assert code == 0
    assert [(p["name"], p["photos"]) for p in json.loads(out)] == [("kian", 1), ("tian", 1), ("younes", 1)]
    code, out, _ = run("--db", enrolled, "people")
    assert out.splitlines()[0].split() == ["name", "photos", "enrolled"] and "3 people, 3 photos" in out


def test_identify_json_has_one_object_per_face(run, enrolled):
    code, out, _ = run("--db", enrolled, "identify", "--json", photo("kian"), photo("younes"), photo("camera_5"))
    assert code == 0
    faces = json.loads(out)
    assert len(faces) == 3
    for face in faces:
        assert {"image", "box", "identity", "distance"} <= set(face)
        assert len(face["box"]) == 4 and isinstance(face["distance"], float)
    assert [f["image"] for f in faces] == [str(photo(n)) for n in ("kian", "younes", "camera_5")]
    assert [f["identity"] for f in faces[:2]] == ["kian", "younes"] and faces[0]["distance"] < 1e-3


def test_identify_with_threshold_zero_says_unknown(run, enrolled):
    code, out, _ = run("--db", enrolled, "identify", photo("camera_1"), "--threshold", "0", "-k", "2")
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split()[:4] == ["image", "box", "identity", "distance"] and row.split()[2] == "unknown"


def test_identify_goes_on_after_a_photo_without_a_face(run, enrolled, tmp_path):
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 400, 3), 180, np.uint8))
    code, out, err = run("--db", enrolled, "--json", "identify", wall, photo("tian"))
    assert code == 2
    assert_one_error_line(err, "no face found", "wall.png")
    assert [f["identity"] for f in json.loads(out)] == ["tian"]


def test_verify_exit_code_tells_the_answer(run, enrolled):
    code, out, _ = run("--db", enrolled, "verify", photo("younes"), "--as", "younes")
    assert code == 0 and "it is younes" in out
    code, out, _ = run("--db", enrolled, "verify", photo("camera_0"), "--as", "younes", "--threshold", "0", "--json")
    assert code == 1
    answer = json.loads(out)
    assert answer["match"] is False and answer["distance"] > 0 and answer["name"] == "younes"


def test_verify_unknown_name_is_one_error_line(run, enrolled):
    code, out, err = run("--db", enrolled, "verify", photo("younes"), "--as", "benoit")
    assert code == 2 and out == ""
    assert_one_error_line(err, "'benoit' is not enrolled", "people lists who is")
    assert "kian" not in err


def test_remove_deletes_a_person(run, tmp_path, enrolled):
    copy = tmp_path / "copy.sqlite"
    shutil.copy(enrolled, copy)
    code, out, _ = run("remove", "kian", "--db", copy)
    assert code == 0 and "removed kian (1 photo(s))" in out
    with FaceDatabase(copy) as db:
        assert db.names() == ["tian", "younes"]
    code, _, err = run("remove", "kian", "--db", copy)
    assert code == 2
    assert_one_error_line(err, "'kian' is not enrolled")


def test_bad_databases_give_one_error_line(run, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    code, _, err = run("--db", text, "people")
    assert code == 2
    assert_one_error_line(err, "not a usable facerec database")
    code, _, err = run("--db", tmp_path / "missing.sqlite", "identify", photo("younes"))
    assert code == 2
    assert_one_error_line(err, "does not exist")


def test_identify_on_an_empty_database_is_one_error_line(run, tmp_path, weights):
    empty_database(tmp_path / "empty.sqlite")
    code, _, err = run("--db", tmp_path / "empty.sqlite", "identify", photo("younes"))
    assert code == 2
    assert_one_error_line(err, "holds no faces")


def test_usage_errors_exit_2(run):
    assert run()[0] == 2
    code, _, err = run("verify", "x.jpg")  # --as is required
    assert code == 2 and "--as" in err
    assert run("frobnicate")[0] == 2


def test_door_annotates_a_folder(run, enrolled, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in ("camera_0", "kian", "camera_3"):
        shutil.copy(photo(name), frames / photo(name).name)
    out = tmp_path / "annotated"
    code, stdout, _ = run("door", frames, "--db", enrolled, "--out", out, "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["frames"] == report["processed"] == 3 and len(report["faces"]) == 3
    assert {"image", "box", "identity", "distance", "frame"} <= set(report["faces"][0])
    assert sorted(p.name for p in out.iterdir()) == ["camera_0.jpg", "camera_3.jpg", "kian.jpg"]
    kian = next(f for f in report["faces"] if f["image"].endswith("kian.jpg"))
    assert kian["identity"] == "kian"
    drawn, original = cv2.imread(str(out / "kian.jpg")), cv2.imread(str(photo("kian")))
    left, top, right, bottom = kian["box"]
    assert drawn.shape == original.shape
    edge = np.abs(drawn[top, left:right].astype(int) - original[top, left:right].astype(int)).mean()
    assert edge > 20  # the box's top edge is drawn


def tiny_video(path, names: list[str], side: int = 192, repeat: int = 2, fps: float = 5.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (side, side))
    for name in names:
        frame = cv2.resize(cv2.imread(str(photo(name))), (side, side), interpolation=cv2.INTER_CUBIC)
        for _ in range(repeat):
            writer.write(frame)
    writer.release()


def test_door_writes_an_annotated_video(run, enrolled, tmp_path):
    source, out = tmp_path / "door.mp4", tmp_path / "out" / "door_annotated.mp4"
    tiny_video(source, ["younes", "camera_1", "tian"])
    code, stdout, _ = run("door", source, "--db", enrolled, "--out", out, "--every", "2")
    assert code == 0 and "door: 6 frame(s), 3 searched" in stdout
    capture = cv2.VideoCapture(str(out))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(frame)
        ok, frame = capture.read()
    capture.release()
    assert len(frames) == 6 and frames[0].shape == (192, 192, 3)


def test_door_turns_a_folder_of_mixed_sizes_into_one_video(run, enrolled, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(photo("kian"), frames / "a.jpg")
    wide = np.full((360, 640, 3), 128, np.uint8)
    wide[50:300, 300:550] = cv2.resize(cv2.imread(str(photo("tian"))), (250, 250), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(frames / "b.png"), wide)
    code, stdout, _ = run("door", frames, "--db", enrolled, "--out", tmp_path / "door.avi", "--json")
    assert code == 0
    assert [f["identity"] for f in json.loads(stdout)["faces"]] == ["kian", "tian"]
    capture = cv2.VideoCapture(str(tmp_path / "door.avi"))
    shapes = []
    ok, frame = capture.read()
    while ok:
        shapes.append(frame.shape)
        ok, frame = capture.read()
    assert shapes == [(360, 640, 3)] * 2


def test_door_takes_a_single_photo_as_its_source(run, enrolled, tmp_path):
    out = tmp_path / "annotated"
    code, stdout, _ = run("door", photo("kian"), "--db", enrolled, "--out", out, "--json")
    report = json.loads(stdout)
    assert code == 0 and report["frames"] == report["processed"] == 1
    assert [f["identity"] for f in report["faces"]] == ["kian"]
    assert [p.name for p in out.iterdir()] == [photo("kian").name]


def test_door_on_a_missing_source_is_one_error_line(run, enrolled, tmp_path):
    code, _, err = run("door", tmp_path / "nope.mp4", "--db", enrolled, "--out", tmp_path / "o.mp4")
    assert code == 2
    assert_one_error_line(err, "does not exist")


def test_setup_copies_the_photos_once(run, tmp_path):
    source = happy_house()
    dest = tmp_path / "images"
    code, out, _ = run("setup", "--images", dest)
    count = len(list(source.iterdir()))
    assert code == 0 and f"copied {count} Happy House photo(s)" in out
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in source.iterdir())
    code, out, _ = run("setup", "--images", dest, "--json")
    assert code == 0 and json.loads(out)["copied"] == []
    (dest / "kian.jpg").write_bytes(b"damaged")
    code, out, _ = run("setup", "--images", dest, "--json")
    assert json.loads(out)["copied"] == ["kian.jpg"]
    assert (dest / "kian.jpg").read_bytes() == (source / "kian.jpg").read_bytes()


def test_demo_enrolls_the_residents_and_judges_the_camera_shots(run, tmp_path, weights):
    images, db, sheet = tmp_path / "images", tmp_path / "runs" / "door.sqlite", tmp_path / "runs" / "sheet.png"
    for attempt in (1, 2):  # the database is recreated, not appended to
        code, out, _ = run("demo", "--images", images, "--db", db, "--out", sheet)
        assert code == 0, f"run {attempt}"
        with FaceDatabase(db) as database:
            assert [(p.name, p.photos) for p in database.people()] == [(name, 1) for name in RESIDENTS], attempt
    rows = [line.split() for line in out.splitlines() if line.startswith("camera_")]
    assert [row[0] for row in rows] == [f"camera_{i}.jpg" for i in range(6)]
    assert all(row[1] in RESIDENTS and float(row[2]) >= 0 for row in rows)
    assert "closest resident" in out and "threshold" in out
    picture = cv2.imread(str(sheet))
    assert picture is not None and picture.shape[0] > 300 and picture.shape[1] > 600


def test_demo_json_and_ban(run, tmp_path, weights):
    images, db, sheet = tmp_path / "images", tmp_path / "door.sqlite", tmp_path / "sheet.png"
    code, out, _ = run("--json", "demo", "--images", images, "--db", db, "--out", sheet, "--threshold", "2.0",
                       "--ban", "benoit")
    assert code == 0
    doors = json.loads(out)["doors"]
    assert len(doors) == 6 and all(d["identity"] == d["closest"] for d in doors)  # threshold 2 accepts everyone
    for door in doors:
        banned = door["closest"] == "benoit"
        assert door["verdict"] == ("refused: benoit is banned" if banned else f"welcome in, {door['closest']}")


def test_demo_refuses_to_delete_a_file_that_is_not_a_face_database(run, tmp_path, weights):
    precious = tmp_path / "thesis.sqlite"
    precious.write_text("my thesis")
    assert run("setup", "--images", tmp_path / "images")[0] == 0
    code, _, err = run("demo", "--images", tmp_path / "images", "--db", precious, "--out", tmp_path / "s.png")
    assert code == 2 and precious.read_text() == "my thesis"
    assert_one_error_line(err, "not a usable facerec database")


def test_demo_refuses_to_recreate_a_database_of_other_people(run, tmp_path, enrolled):
    images, copy = tmp_path / "images", tmp_path / "mine.sqlite"
    shutil.copy(enrolled, copy)
    with FaceDatabase(copy) as db:
        db.remove("younes")  # kian and tian are residents too: add someone who is not
    assert run("--db", copy, "enroll", "stranger", photo("camera_3"))[0] == 0
    assert run("setup", "--images", images)[0] == 0
    code, _, err = run("demo", "--images", images, "--db", copy, "--out", tmp_path / "s.png")
    assert code == 2
    assert_one_error_line(err, "holds other people (stranger")
    with FaceDatabase(copy) as db:
        assert db.names() == ["kian", "stranger", "tian"]


def option_strings(add_arguments) -> list[str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return [option for action in parser._actions for option in action.option_strings if option != "-h"]


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_train_and_evaluate_delegate_to_the_lead_modules(run, command):
    module = __import__({"train": "facerec.training.train"}.get(command, f"facerec.{command}"),
                        fromlist=["add_arguments"])
    code, out, _ = run(command, "--help")
    assert code == 0 and out.startswith(f"usage: facerec {command}")
    for option in option_strings(module.add_arguments):
        assert option in out


def test_train_offers_the_consistent_recipe_and_says_what_data_is_missing(run, tmp_path):
    from facerec.training import distill

    code, out, _ = run("train", "--recipe", "consistent", "--help")
    assert code == 0 and "--recipe {original,consistent}" in out
    assert all(option in out for option in option_strings(distill.add_arguments))
    code, _, err = run("train", "--recipe", "consistent", "--bfw-views", str(tmp_path / "none"),
                       "--run-dir", str(tmp_path / "run"))
    assert code == 2 and "run python -m facerec.training.teacher_views" in err


def test_evaluate_rejects_an_unknown_benchmark(run):
    code, _, err = run("evaluate", "imagenet")
    assert code == 2 and "invalid choice" in err


def test_a_real_process_prints_no_traceback_and_people_does_not_load_tensorflow(tmp_path, enrolled):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00" * 5000)
    done = subprocess.run([sys.executable, "-m", "facerec", "--db", str(bad), "people"], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert_one_error_line(done.stderr, "bad.sqlite")
    copy = tmp_path / "copy.sqlite"
    shutil.copy(enrolled, copy)
    probe = ("import sys; from facerec.cli import main; "
             f"codes = [main(['--db', {str(copy)!r}, 'people']), main(['--db', {str(copy)!r}, 'remove', 'tian'])]; "
             "print(codes, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], env=subprocess_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "[0, 0] False", done.stderr


@pytest.fixture(scope="module")
def enrolled_nn4(tmp_path_factory, weights):
    """A database of the nn4 encoder (the siamese heads are nn4's) with younes, kian and tian enrolled."""
    path = tmp_path_factory.mktemp("cli_nn4") / "faces.sqlite"
    for name in ("younes", "kian", "tian"):
        assert main(["--db", str(path), "--encoder", "nn4", "enroll", name, str(photo(name))]) == 0
    return path


def test_verify_by_siamese_head_reports_a_probability(run, enrolled_nn4):
    enrolled = enrolled_nn4
    code, out, _ = run("--db", enrolled, "verify", photo("younes"), "--as", "younes", "--method", "head-abs", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["match"] is True and answer["method"] == "head-abs"
    assert 0.5 <= answer["probability"] <= 1.0 and answer["threshold"] == 0.5
    code, out, _ = run("--db", enrolled, "verify", photo("tian"), "--as", "younes", "--method", "head-chi2")
    assert code == 1 and "it is not younes (head-chi2: p(same)" in out
    code, _, err = run("--db", enrolled, "verify", photo("younes"), "--as", "younes", "--method", "head-abs",
                       "--threshold", "1.5")
    assert code == 2 and len(err.strip().splitlines()) == 1
