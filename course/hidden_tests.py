"""Instructor tests of the Face Recognition assignment (run by ``python -m course grade``, not shown to students).

They extend the public tests with more inputs: other batch sizes, margins and
dtypes for the triplet loss and its gradient; every Happy House photo and a large
photo that needs face detection for ``img_to_encoding``; every camera shot, the
threshold read from the model card (not a hard-coded 0.7) and the error messages
for ``verify`` and ``who_is_it``. Each takes the student's function (and the
model) and raises ``AssertionError`` with a hint, like the public tests.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from course import solutions
from course._checks import (
    at_distances,
    call,
    check_raises,
    fail,
    reference_database,
    reference_distance,
    reference_encoding,
    threshold,
    threshold_set_to,
)
from course.public_tests import check_encoding, check_triplet_value, check_verify, check_who_is_it
from course.triplet_selection_tests import select_triplets_degenerate, select_triplets_random_batches
from facerec.exceptions import EmptyDatabase, UnknownIdentity
from facerec.image import load_image

__all__ = ["TESTS"]


def triplet_loss_more_batches(target) -> None:
    """Batches of 1 and 64, margins 0 and 1, float64 numpy input, identical triplets."""
    rng = np.random.default_rng(2024)
    for m, alpha in ((1, 0.2), (64, 0.0), (64, 1.0), (17, 0.35)):
        a, p, n = (rng.normal(0, 0.2, (m, 128)).astype(np.float32) for _ in range(3))
        check_triplet_value(target, [tf.constant(a), tf.constant(p), tf.constant(n)], alpha,
                            f"a random batch of {m} triplets with alpha={alpha}")
    a, p, n = (rng.normal(0, 0.1, (5, 128)) for _ in range(3))
    check_triplet_value(target, (tf.constant(a), tf.constant(p), tf.constant(n)), None,
                        "float64 tensors (5 triplets)")
    same = np.ones((4, 128), np.float32) / np.sqrt(128)
    check_triplet_value(target, [tf.constant(same)] * 3, 0.25, "4 identical triplets (expected 4 x 0.25 = 1.0)")


def triplet_loss_gradient(target) -> None:
    """The gradient with respect to the anchors is 2 (n - p) for active triplets and 0 for the others."""
    rng = np.random.default_rng(5)
    a, p, n = (tf.constant(rng.normal(0, 0.1, (8, 128)).astype(np.float32)) for _ in range(3))
    with tf.GradientTape() as tape:
        tape.watch(a)
        outcome = call(target, None, [a, p, n])
    if outcome.error is not None or outcome.result is None:
        fail(target, f"triplet_loss failed on 8 random triplets: {outcome.error!r}")
    gradient = tape.gradient(outcome.result, a)
    if gradient is None:
        fail(target, "TensorFlow cannot differentiate your loss", "use TensorFlow ops only")
    basic = (tf.reduce_sum((a - p) ** 2, -1) - tf.reduce_sum((a - n) ** 2, -1) + 0.2).numpy()
    expected = 2.0 * (n.numpy() - p.numpy()) * (basic > 0)[:, None]
    if not np.allclose(gradient.numpy(), expected, atol=1e-4):
        fail(target, "the gradient of the loss with respect to the anchors is wrong",
             "the loss is sum_i max(||a_i - p_i||^2 - ||a_i - n_i||^2 + alpha, 0); check each term")


def img_to_encoding_every_photo(target, model) -> None:
    """Every Happy House photo (12 residents, 6 camera shots) matches the reference encoding."""
    for name in solutions.RESIDENTS + solutions.CAMERA_SHOTS:
        check_encoding(target, solutions.happy_house_image(name), model, name)


_SCRATCH = tempfile.TemporaryDirectory(prefix="course-hidden-")  # removed when the process exits


@functools.cache
def _large_photo() -> str:
    """A 640x480 photo with camera_0's face enlarged 3x off-centre: it needs real face detection."""
    face = load_image(solutions.happy_house_image("camera_0"))
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[40:328, 300:588] = np.asarray(Image.fromarray(face).resize((288, 288), Image.Resampling.BICUBIC))
    path = Path(_SCRATCH.name) / "door_camera_large.png"
    Image.fromarray(canvas).save(path)
    return str(path)


def img_to_encoding_large_photo(target, model) -> None:
    """A large photo whose face must be found (not the whole image) matches the reference encoding."""
    check_encoding(target, _large_photo(), model, "a 640x480 photo")


def verify_every_camera_shot(target, model) -> None:
    """Each camera shot against its true resident and two others matches the reference."""
    database = reference_database(model)
    claims = {"camera_0": ("younes", "felix", "kian"), "camera_1": ("bertrand", "arnaud", "tian"),
              "camera_2": ("benoit", "kian", "andrew"), "camera_3": ("bertrand", "dan", "danielle"),
              "camera_4": ("dan", "sebastiano", "kevin"), "camera_5": ("arnaud", "sebastiano", "younes")}
    for image, identities in claims.items():
        for identity in identities:
            check_verify(target, solutions.happy_house_image(image), identity, database, model,
                         reference_distance(image, identity, model), image)


def verify_threshold_from_model_card(target, model) -> None:
    """The decision follows default_threshold(): with the threshold set to 0.3 and 1.6 in turn."""
    image = solutions.happy_house_image("camera_0")
    encoding = reference_encoding(image, model)
    database = at_distances(encoding, {"younes": 0.5, "kian": 1.0})
    for value in (0.3, 1.6):
        with threshold_set_to(target, value):
            outcome = call(target, image, "younes", database, model)
        opened = outcome.result[1] if isinstance(outcome.result, tuple) and len(outcome.result) == 2 else None
        if outcome.error is not None or opened is None or bool(opened) != (0.5 <= value):
            fail(target, f"with default_threshold() = {value} and dist = 0.5, verify returned {outcome.result!r}"
                         + (f" and raised {outcome.error!r}" if outcome.error else ""),
                 "compare dist with default_threshold() inside verify; never hard-code the threshold")


def verify_error_messages(target, model) -> None:
    """Unknown names raise UnknownIdentity listing every known name; an empty database raises EmptyDatabase."""
    database = reference_database(model)
    image = solutions.happy_house_image("camera_0")
    check_raises(target, (image, "Younes", database, model), UnknownIdentity, "verify(..., 'Younes', ...)",
                 ("Younes",) + solutions.RESIDENTS)
    small = {"zoe": database["younes"]}
    check_raises(target, (image, "kian", small, model), UnknownIdentity, "verify(..., 'kian', {'zoe': ...})",
                 ("kian", "zoe"))
    check_raises(target, (image, "kian", {}, model), EmptyDatabase, "verify with an empty database")


def who_is_it_every_camera_shot(target, model) -> None:
    """Each camera shot, with the database in course order and reversed, matches the reference."""
    database = reference_database(model)
    reverse = dict(reversed(list(database.items())))
    for image in solutions.CAMERA_SHOTS:
        for order, db in (("sorted", database), ("reversed", reverse)):
            check_who_is_it(target, solutions.happy_house_image(image), db, model, f"{image!r}, {order} database")


def who_is_it_small_databases(target, model) -> None:
    """A database of one, and of two people at equal-looking distances, give the closest name."""
    image = solutions.happy_house_image("camera_3")
    encoding = reference_encoding(image, model)
    t = threshold()
    for seed, distances in enumerate(({"solo": 0.3 * t}, {"solo": 3.0 * t}, {"x": 0.61 * t, "y": 0.6 * t})):
        check_who_is_it(target, image, at_distances(encoding, distances, seed), model, f"camera_3, {distances}")
    check_raises(target, (image, {}, model), EmptyDatabase, "who_is_it with an empty database")


def who_is_it_threshold_from_model_card(target, model) -> None:
    """'Not in the database.' follows default_threshold(): set to 0.3 and 1.6 in turn."""
    image = solutions.happy_house_image("camera_0")
    database = at_distances(reference_encoding(image, model), {"younes": 0.5, "kian": 1.0})
    for value in (0.3, 1.6):
        with threshold_set_to(target, value):
            outcome = call(target, image, database, model)
        said_unknown = "Not in the database." in outcome.printed
        if outcome.error is not None or said_unknown != (0.5 > value):
            fail(target, f"with default_threshold() = {value} and min_dist = 0.5, who_is_it printed "
                         f"{outcome.printed.strip()!r}" + (f" and raised {outcome.error!r}" if outcome.error else ""),
                 "compare min_dist with default_threshold() inside who_is_it; never hard-code the threshold")


TESTS = {
    "triplet_loss": (triplet_loss_more_batches, triplet_loss_gradient),
    "img_to_encoding": (img_to_encoding_every_photo, img_to_encoding_large_photo),
    "verify": (verify_every_camera_shot, verify_threshold_from_model_card, verify_error_messages),
    "who_is_it": (who_is_it_every_camera_shot, who_is_it_small_databases, who_is_it_threshold_from_model_card),
    "select_triplets": (select_triplets_degenerate, select_triplets_random_batches),
}
