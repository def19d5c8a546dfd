"""Is the face flat? (issue 24, item 3): the check on synthetic landmarks, and its hook into the door.

A real head is :mod:`facerec.face_shape`'s approximate 3D mean head (68 points from Farkas' adult
proportions) projected under a small head rotation with pixel noise; a photo is the same shape printed
flat (z = 0) and moved as a plane. The door tests run the real detector and landmarks on frames made
from a Happy House photo.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from helpers_issue4 import photo, weights_or_skip

from facerec.cli import main
from facerec.door import run_door
from facerec.exceptions import InvalidArgument
from facerec.face_shape import FIVE_OF_68, mean_face_3d, project, rotation
from facerec.flatness import check_flat, fit_homography

HEAD = mean_face_3d()
PHOTO = HEAD * [1, 1, 0]  # the same face printed flat


def moving(shape: np.ndarray, seed: int, frames: int = 20, turn: float = 15.0, noise: float = 0.5) -> list:
    """``frames`` landmark sets of ``shape`` turning (yaw up to ``turn`` degrees, then nodding), coming closer
    and drifting sideways, with Gaussian pixel noise of ``noise`` px (face about 100 px wide)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in np.linspace(0, 1, frames):
        r = rotation(turn * np.sin(2 * np.pi * t), 0.6 * turn * np.sin(np.pi * t), rng.uniform(-2, 2))
        points = project(shape, r, 750 - 50 * t, shift=(30 * t, 10 * t))
        out.append(points + rng.normal(0, noise, points.shape))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_a_head_that_turns_a_little_is_not_flat(seed):
    verdict = check_flat(moving(HEAD, seed, turn=20.0))
    assert verdict.flat is False and verdict.statistic > 1.2, verdict


@pytest.mark.parametrize("seed", range(5))
def test_the_same_face_printed_flat_and_moved_is_flat(seed):
    verdict = check_flat(moving(PHOTO, seed, turn=35.0))
    assert verdict.flat is True and verdict.statistic < 1.0, verdict


def test_a_head_or_a_photo_that_stays_still_cannot_be_told():
    for shape in (HEAD, PHOTO):
        verdict = check_flat(moving(shape, 0, turn=0.5))
        assert verdict.flat is None and verdict.statistic is None and "turn your head" in verdict.reason


def test_too_few_frames_cannot_be_told():
    verdict = check_flat(moving(HEAD, 0, frames=5))
    assert verdict.flat is None and verdict.frames == 5 and "too few frames" in verdict.reason
    assert check_flat([]).flat is None


def test_landmarks_other_than_dlibs_68_are_refused():
    with pytest.raises(InvalidArgument, match=r"\(68, 2\)"):
        check_flat([np.zeros((68, 2))] * 9 + [np.zeros((5, 2))])


def test_five_points_cannot_tell_a_head_from_a_photo():
    """Why the check uses 68 points: dlib's 5 (four eye corners nearly on one line, and the nose base) leave a
    homography almost free, so heads and photos score alike (see MODEL_CARD.md, 'Is the face flat?')."""
    five = [check_flat(moving(PHOTO, s, turn=35.0), use=FIVE_OF_68).flat for s in range(20)]
    all_68 = [check_flat(moving(PHOTO, s, turn=35.0)).flat for s in range(20)]
    assert five.count(False) >= 5 and all_68.count(False) == 0  # 5 points take many photos for heads


def test_the_homography_fit_recovers_a_plane_motion_exactly():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 200, (20, 2))
    matrix = np.array([[1.1, 0.05, 12], [-0.03, 0.95, -4], [1e-4, -2e-4, 1]])
    target = np.column_stack([source, np.ones(20)]) @ matrix.T
    found = fit_homography(source, target[:, :2] / target[:, 2:])
    assert np.allclose(found, matrix, atol=1e-6)


# -- the door with the check on -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def younes_db(tmp_path_factory):
    weights_or_skip()
    path = tmp_path_factory.mktemp("flat") / "faces.sqlite"
    assert main(["--db", str(path), "enroll", "younes", str(photo("younes"))]) == 0
    return path


def write_video(path, frames: list[np.ndarray], fps: float = 10.0) -> str:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def test_the_door_fills_flat_and_says_why_when_the_check_is_on(younes_db, tmp_path):
    from facerec.attacks import planar_attack
    from facerec.image import load_image

    frames = planar_attack(load_image(photo("camera_0")), np.random.default_rng(0), 12, degraded=False)
    video = write_video(tmp_path / "attack.avi", frames)
    off = run_door(video, younes_db, detector="hog", progress=False, log=False)
    assert off.visits[0]["flat"] is None and "flatness" not in off.visits[0]
    on = run_door(video, younes_db, detector="hog", progress=False, log=False, flat_check=True)
    line = on.visits[0]
    assert line["flatness"]["frames"] == 12 and line["flat"] is line["flatness"]["flat"]
    assert line["admitted"] == (line["identity"] is not None and line["flat"] is not True)
    if line["flat"] is True and line["identity"] is not None:
        assert line["refused"].startswith("flat face")


def test_a_planar_attack_made_from_a_happy_house_photo_is_refused(younes_db, tmp_path, capsys):
    """younes' door-camera photo moved as a plane (tilts up to 35 degrees) opens the door without the check
    and is refused with it, through the command line's JSON line."""
    from facerec.attacks import planar_attack
    from facerec.image import load_image

    frames = planar_attack(load_image(photo("camera_0")), np.random.default_rng(0), 20, side=360, degraded=False,
                           max_tilt=35)
    video = write_video(tmp_path / "attack.avi", frames)
    capsys.readouterr()
    assert main(["--db", str(younes_db), "door", video, "--json", "--detector", "hog", "--flat-check"]) == 0
    (line,) = json.loads(capsys.readouterr().out)["visits"]
    assert (line["identity"], line["flat"], line["admitted"]) == ("younes", True, False)
    assert line["refused"].startswith("flat face") and line["flatness"]["statistic"] < 1.05
    off = run_door(video, younes_db, detector="hog", progress=False, log=False)
    assert [(v["identity"], v["admitted"], v["flat"]) for v in off.visits] == [("younes", True, None)]


def test_a_head_turning_made_from_a_happy_house_photo_is_not_refused(younes_db, tmp_path):
    """The same photo warped as a head turning and nodding (its landmarks moved as the 3D mean head's):
    not flat, admitted."""
    from facerec.align import detect_faces
    from facerec.attacks import place, turning_head
    from facerec.flatness import landmarks_68
    from facerec.image import load_image

    base, _ = place(load_image(photo("camera_0")), 360)
    face = detect_faces(base, detector="hog")[0]
    frames = turning_head(base, landmarks_68(base, face.box), np.random.default_rng(0), 20)
    report = run_door(write_video(tmp_path / "head.avi", frames), younes_db, detector="hog", progress=False,
                      log=False, flat_check=True)
    assert [(v["identity"], v["flat"], v["admitted"]) for v in report.visits] == [("younes", False, True)]


def test_the_human_line_of_a_refused_flat_visit_says_why():
    from facerec.cli import _visit_line

    line = {"visit": 3, "identity": "younes", "admitted": False, "distance": 0.3, "frames": 5, "flat": True,
            "start": "2026-12-04T21:30:00.125+00:00", "end": "2026-12-04T21:30:04.000+00:00",
            "refused": "flat face: flat: a plane explains the face's motion as well as a head"}
    assert _visit_line(line).endswith("UTC; flat face: flat: a plane explains the face's motion as well as a head")
    assert "refused, 0.300" in _visit_line(line)
