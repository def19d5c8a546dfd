"""Detection and alignment: the template, face boxes, fallbacks and typed errors."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.align import TEMPLATE, align_face, detect_faces, face_from_box, find_and_align
from facerec.exceptions import FaceNotFound, InvalidArgument
from facerec.image import load_image


def test_template_is_openfaces_outer_eyes_and_nose():
    # OpenFace MINMAX_TEMPLATE rows 36, 45, 33 (align_dlib.py), as fractions of the side
    np.testing.assert_allclose(TEMPLATE, [[0.194157, 0.169267], [0.788859, 0.158171], [0.494951, 0.514441]], atol=1e-5)


def test_lfw_photo_has_one_face_in_the_middle(assets):
    image = load_image(assets / "lfw" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    faces = detect_faces(image)
    assert len(faces) == 1
    left, top, right, bottom = faces[0].box
    assert left < 80 < right and top < 80 < bottom
    assert faces[0].landmarks.shape == (5, 2)


def test_aligned_landmarks_land_on_the_template(assets):
    image = load_image(assets / "lfw" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    aligned, face = find_and_align(image)
    assert aligned.shape == (96, 96, 3) and aligned.dtype == np.uint8
    # landmarks found again on the aligned crop sit near the template points
    again = face_from_box(aligned, (0, 0, 96, 96)).landmarks[[2, 0, 4]]
    assert np.abs(again - TEMPLATE * 96).max() < 6


def test_several_faces_are_all_found_largest_first(assets):
    import cv2

    first = load_image(assets / "lfw" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    second = cv2.resize(load_image(assets / "lfw" / "Colin_Powell" / "Colin_Powell_0001.jpg"), (128, 128))
    canvas = np.full((200, 360, 3), 255, np.uint8)
    canvas[20:180, 10:170] = first
    canvas[36:164, 210:338] = second
    faces = detect_faces(canvas)
    assert len(faces) == 2
    assert faces[0].area >= faces[1].area
    assert faces[0].box[2] < 180 and faces[1].box[0] > 190  # the bigger face is the left one


def test_no_face_in_a_large_blank_image_raises():
    with pytest.raises(FaceNotFound, match="no face found"):
        find_and_align(np.full((400, 600, 3), 128, np.uint8))


@pytest.mark.parametrize("detector", ["hog", "auto"])
def test_a_blank_crop_sized_image_is_no_face_unless_the_caller_asks_for_the_whole_image(detector):
    blank = np.full((96, 96, 3), 128, np.uint8)
    with pytest.raises(FaceNotFound):
        find_and_align(blank, detector=detector)
    aligned, face = find_and_align(blank, fallback_to_whole=True, detector=detector)
    assert face.box == (0, 0, 96, 96) and face.score == 0.0 and aligned.shape == (96, 96, 3)


def test_the_course_keeps_its_whole_image_rule_for_its_crops():
    from course.photos import find_and_align as course_find_and_align

    blank = np.full((96, 96, 3), 128, np.uint8)
    _, face = course_find_and_align(blank)
    assert face.box == (0, 0, 96, 96)
    with pytest.raises(FaceNotFound):
        course_find_and_align(np.full((400, 400, 3), 128, np.uint8))


def test_unknown_detector_is_a_typed_error():
    with pytest.raises(InvalidArgument, match="detector must be one of"):
        detect_faces(np.zeros((50, 50, 3), np.uint8), detector="yolo")


def test_wrong_array_is_a_typed_error():
    with pytest.raises(InvalidArgument):
        detect_faces(np.zeros((10, 10), np.float32))
    with pytest.raises(InvalidArgument):
        align_face(np.zeros((10, 10, 4), np.uint8), None)
