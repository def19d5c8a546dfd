"""Public tests of the Face Recognition assignment: run them from the notebook on your functions.

Each test takes your function as its first argument (and the model where the
function needs one), prints ``All tests passed.`` when it is right, and otherwise
raises ``AssertionError`` saying what is wrong and, for common mistakes, how to
fix it::

    triplet_loss_test(triplet_loss)
    img_to_encoding_test(img_to_encoding, FRmodel)
    verify_test(verify, FRmodel)
    who_is_it_test(who_is_it, FRmodel)
    select_triplets_test(select_triplets)

The tests compare your results with the reference solution run on the same model,
so they pass with any weights; the instructor's grader runs hidden tests as well.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

from course import solutions
from course._checks import (
    PASSED,
    at_distances,
    call,
    check_no_error,
    check_raises,
    fail,
    is_real,
    parse_who_is_it,
    reference_database,
    reference_distance,
    reference_encoding,
    threshold,
    to_float,
)
from course.triplet_selection_tests import select_triplets_test
from facerec.exceptions import EmptyDatabase, UnknownIdentity
from facerec.image import load_image

__all__ = ["triplet_loss_test", "img_to_encoding_test", "verify_test", "who_is_it_test", "TESTS"]

# ---------------------------------------------------------------------------------------------- triplet_loss

_TRIPLET_MISTAKES = (
    ("mean", "sum the per-triplet losses over the batch (tf.reduce_sum), don't average them"),
    ("max_of_sum", "take tf.maximum(basic_loss, 0.0) for each triplet first, then sum over the batch"),
    ("whole_batch", "sum the squared differences over the last axis only (axis=-1): each triplet has its own "
                    "distance"),
    ("not_squared", "use squared distances: tf.reduce_sum(tf.square(anchor - positive), axis=-1)"),
    ("abs", "square the differences (tf.square), don't take their absolute values"),
    ("no_alpha", "add the margin alpha to pos_dist - neg_dist"),
    ("minus_alpha", "add alpha (the margin), don't subtract it"),
    ("no_max", "clip each triplet's loss at zero with tf.maximum(basic_loss, 0.0)"),
    ("swapped", "compute pos_dist - neg_dist (anchor-positive minus anchor-negative), not the reverse"),
)


def triplet_variants(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray, alpha: float) -> dict:
    """The correct triplet loss (key ``"correct"``) and the values of common mistakes, in float64."""
    a, p, n = (np.asarray(x, np.float64) for x in (anchor, positive, negative))
    pos, neg = ((a - p) ** 2).sum(-1), ((a - n) ** 2).sum(-1)
    basic = pos - neg + alpha
    return {
        "correct": np.maximum(basic, 0).sum(),
        "mean": np.maximum(basic, 0).mean(),
        "max_of_sum": max(basic.sum(), 0.0),
        "whole_batch": max(pos.sum() - neg.sum() + alpha, 0.0),
        "not_squared": np.maximum(np.sqrt(pos) - np.sqrt(neg) + alpha, 0).sum(),
        "abs": np.maximum(np.abs(a - p).sum(-1) - np.abs(a - n).sum(-1) + alpha, 0).sum(),
        "no_alpha": np.maximum(pos - neg, 0).sum(),
        "minus_alpha": np.maximum(pos - neg - alpha, 0).sum(),
        "no_max": basic.sum(),
        "swapped": np.maximum(neg - pos + alpha, 0).sum(),
    }


def check_triplet_value(target, y_pred, alpha: float | None, label: str) -> None:
    """Call ``target(None, y_pred[, alpha])`` and compare with the formula, explaining common mistakes."""
    args = (None, y_pred) if alpha is None else (None, y_pred, alpha)
    call_text = f"triplet_loss on {label}"
    outcome = call(target, *args)
    check_no_error(target, outcome, call_text)
    loss = outcome.result
    if not tf.is_tensor(loss):
        fail(target, f"{call_text} returned a {type(loss).__name__}, not a TensorFlow tensor",
             "use TensorFlow ops (tf.reduce_sum, tf.square, tf.maximum, ...) so that Keras can train with the loss")
    if loss.shape.rank != 0:
        fail(target, f"{call_text} returned a tensor of shape {tuple(loss.shape)}, not a scalar",
             "sum the per-triplet losses over the batch with tf.reduce_sum(...) (no axis) to get one number")
    value = to_float(loss)
    variants = triplet_variants(*[np.asarray(x) for x in y_pred], 0.2 if alpha is None else alpha)
    expected = variants["correct"]
    if not np.isclose(value, expected, rtol=1e-4, atol=1e-4):
        hints = [hint for key, hint in _TRIPLET_MISTAKES if np.isclose(value, variants[key], rtol=1e-4, atol=1e-4)]
        fail(target, f"{call_text} returned {value:.6g}, expected {expected:.6g}",
             hints[0] if hints else "loss = sum over the batch of max(||a - p||^2 - ||a - n||^2 + alpha, 0)")


def _one_hot(value: float, index: int = 0, m: int = 1) -> np.ndarray:
    x = np.zeros((m, 128), np.float32)
    x[:, index] = value
    return x


def triplet_loss_test(target) -> None:
    """Test ``triplet_loss(y_true, y_pred, alpha=0.2)`` on hand-made and random triplets."""
    zero = _one_hot(0.0)
    # One triplet whose negative is closer than its positive: 1 - 0.25 + 0.2 = 0.95.
    check_triplet_value(target, [zero, _one_hot(1.0), _one_hot(0.5)], None, "one hard triplet (expected 0.95)")
    # One easy triplet: 0.09 - 1 + 0.2 < 0, so the loss is 0.
    check_triplet_value(target, [zero, _one_hot(0.3), _one_hot(1.0)], None, "one easy triplet (expected 0)")
    # A batch mixing easy and hard triplets, given as a tuple and with alpha passed explicitly.
    rng = np.random.default_rng(7)
    anchor = rng.normal(0, 0.1, (6, 128)).astype(np.float32)
    positive = anchor + rng.normal(0, [[0.02], [0.2], [0.05], [0.15], [0.01], [0.1]], (6, 128)).astype(np.float32)
    negative = anchor + rng.normal(0, [[0.1], [0.05], [0.2], [0.1], [0.03], [0.3]], (6, 128)).astype(np.float32)
    tensors = tuple(tf.constant(x) for x in (anchor, positive, negative))
    check_triplet_value(target, tensors, 0.2, "a batch of 6 triplets (a tuple of tensors)")
    check_triplet_value(target, list(tensors), 1.5, "the same batch with alpha=1.5")
    # Keras must be able to differentiate the loss.
    with tf.GradientTape() as tape:
        tape.watch(tensors[0])
        loss = target(None, list(tensors))
    if tape.gradient(loss, tensors[0]) is None:
        fail(target, "TensorFlow cannot compute the gradient of your loss",
             "build the loss from TensorFlow ops only (no numpy, no float() or .numpy() inside)")
    print(PASSED)


# ------------------------------------------------------------------------------------------- img_to_encoding


def _whole_image(image_path: str) -> np.ndarray:
    image = load_image(image_path)
    return cv2.resize(image, (96, 96), interpolation=cv2.INTER_AREA)


def encoding_variants(image_path: str, model) -> dict[str, tuple[np.ndarray, str]]:
    """Encodings that common mistakes produce, each with the hint that fixes it."""
    from course.photos import find_and_align

    face, _ = find_and_align(image_path)
    scaled = face.astype(np.float32) / 255.0

    def run(x: np.ndarray) -> np.ndarray:
        return model.predict_on_batch(x[None].astype(np.float32))

    return {
        "not scaled": (run(face.astype(np.float32)), "scale the pixels to [0, 1]: divide the uint8 face by 255.0"),
        "not aligned": (run(_whole_image(image_path) / 255.0),
                        "align the face with find_and_align(image_path) instead of using the whole image"),
        "BGR": (run(scaled[..., ::-1]), "keep the channels in RGB order (find_and_align already returns RGB)"),
        "[-1, 1]": (run(scaled * 2.0 - 1.0), "scale the pixels to [0, 1] (divide by 255.0), not to [-1, 1]"),
    }


def check_encoding(target, image_path: str, model, label: str) -> np.ndarray:
    """Call ``target(image_path, model)`` and compare with the reference encoding."""
    call_text = f"img_to_encoding({label!r}, model)"
    outcome = call(target, image_path, model)
    check_no_error(target, outcome, call_text)
    encoding = outcome.result
    if tf.is_tensor(encoding):
        fail(target, f"{call_text} returned a TensorFlow tensor, not a numpy array",
             "use model.predict_on_batch(x), which returns numpy, or call .numpy() on the model's output")
    if not isinstance(encoding, np.ndarray):
        fail(target, f"{call_text} returned a {type(encoding).__name__}, not a numpy array",
             "return the model's output for the batch of one face: an array of shape (1, 128)")
    if encoding.shape != (1, 128):
        fail(target, f"{call_text} returned shape {encoding.shape}, expected (1, 128)",
             "give the model a batch of one face, shape (1, 96, 96, 3), with np.expand_dims(x, axis=0), "
             "and return its output unchanged")
    expected = reference_encoding(image_path, model)
    if not np.allclose(encoding, expected, atol=1e-4):
        hints = [hint for variant, hint in encoding_variants(image_path, model).values()
                 if np.allclose(encoding, variant, atol=1e-4)]
        gap = float(np.abs(encoding - expected).max())
        fail(target, f"{call_text} differs from the expected encoding (largest difference {gap:.3g})",
             hints[0] if hints else "find_and_align(image_path) -> face / 255.0 -> batch of one -> model")
    return encoding


def img_to_encoding_test(target, model) -> None:
    """Test ``img_to_encoding(image_path, model)`` on a camera shot and a PNG resident photo."""
    first = check_encoding(target, solutions.happy_house_image("camera_0"), model, "camera_0.jpg")
    second = check_encoding(target, solutions.happy_house_image("danielle"), model, "danielle.png")
    if np.allclose(first, second):
        fail(target, "two different photos gave the same encoding", "encode the image at image_path, not a fixed one")
    print(PASSED)


# ------------------------------------------------------------------------------------------------ verify


def expected_verify_line(identity: str, door_open: bool) -> str:
    """The line ``verify`` prints: the course's welcome or refusal message."""
    return f"It's {identity}, welcome in!" if door_open else f"It's not {identity}, please go away"


def check_verify(target, image_path: str, identity: str, database: dict, model, expected_dist: float,
                 label: str) -> None:
    """Call ``target`` and compare its distance, decision and message with what ``expected_dist`` implies."""
    call_text = f"verify({label!r}, {identity!r}, database, model)"
    outcome = call(target, image_path, identity, database, model)
    check_no_error(target, outcome, call_text)
    result = outcome.result
    if not isinstance(result, tuple) or len(result) != 2:
        fail(target, f"{call_text} returned {result!r}, expected a tuple (dist, door_open)",
             "end with `return dist, door_open`")
    dist, door_open = result
    if not is_real(dist):
        fail(target, f"{call_text} returned dist={dist!r}, expected a number",
             "dist = np.linalg.norm(encoding - database[identity]); wrap it in float(...)")
    if not np.isclose(float(dist), expected_dist, atol=1e-4):
        hint = "dist is the L2 distance np.linalg.norm(encoding - database[identity]) between the two encodings"
        if np.isclose(float(dist), expected_dist ** 2, atol=1e-4):
            hint = "return the distance itself (np.linalg.norm), not its square"
        fail(target, f"{call_text} returned dist={float(dist):.6g}, expected {expected_dist:.6g}",
             hint + "; if img_to_encoding_test fails, fix img_to_encoding first")
    expected_open = expected_dist <= threshold()
    if not isinstance(door_open, (bool, np.bool_)):
        fail(target, f"{call_text} returned door_open={door_open!r}, expected True or False",
             "set door_open = True when dist <= default_threshold(), else False")
    if bool(door_open) != expected_open:
        fail(target, f"{call_text} returned door_open={bool(door_open)} for dist={expected_dist:.4f} and "
                     f"threshold {threshold():.4f}",
             "open the door when dist <= default_threshold() (the model card's threshold); don't hard-code 0.7")
    line = expected_verify_line(identity, expected_open)
    if line not in outcome.lines:
        fail(target, f"{call_text} should print {line!r}; it printed {outcome.printed.strip()!r}",
             "print the course's message exactly, e.g. print(f\"It's {identity}, welcome in!\")")


def verify_test(target, model) -> None:
    """Test ``verify(image_path, identity, database, model)`` on camera shots, at the threshold, and at the edges."""
    database = reference_database(model)
    for image, identity in (("camera_0", "younes"), ("camera_2", "kian")):
        check_verify(target, solutions.happy_house_image(image), identity, database, model,
                     reference_distance(image, identity, model), image)
    # Encodings placed just inside and just outside the threshold: the decision must follow the model card.
    image = solutions.happy_house_image("camera_1")
    encoding = reference_encoding(image, model)
    for factor in (0.9, 1.1):
        near = at_distances(encoding, {"bertrand": factor * threshold(), "kian": 2.0})
        check_verify(target, image, "bertrand", near, model, factor * threshold(),
                     f"camera_1 with bertrand at {factor} x threshold")
    names = tuple(sorted(database))
    check_raises(target, (image, "nobody", database, model), UnknownIdentity, "verify(..., 'nobody', ...)",
                 ("nobody",) + names, "keep the check `if identity not in database:` that lists the known names")
    check_raises(target, (image, "younes", {}, model), EmptyDatabase, "verify with an empty database",
                 hint="keep the check `if not database:` at the top of verify")
    print(PASSED)


# --------------------------------------------------------------------------------------------- who_is_it


def check_who_is_it(target, image_path: str, database: dict, model, label: str) -> None:
    """Call ``target`` and compare with the closest entry of ``database`` (by the reference encoding)."""
    call_text = f"who_is_it({label})"
    encoding = reference_encoding(image_path, model)
    distances = {name: float(np.linalg.norm(encoding - value)) for name, value in database.items()}
    expected_name = min(distances, key=distances.get)
    expected_dist = distances[expected_name]
    outcome = call(target, image_path, database, model)
    check_no_error(target, outcome, call_text)
    result = outcome.result
    if not isinstance(result, tuple) or len(result) != 2:
        fail(target, f"{call_text} returned {result!r}, expected a tuple (min_dist, identity)",
             "end with `return min_dist, identity`")
    min_dist, identity = result
    if identity != expected_name:
        hint = "keep the name whose distance is the smallest of all (update min_dist and identity together)"
        fail(target, f"{call_text} returned identity={identity!r}, expected {expected_name!r} "
                     f"(distances: {', '.join(f'{k} {v:.3f}' for k, v in distances.items())})", hint)
    if not is_real(min_dist) or not np.isclose(float(min_dist), expected_dist, atol=1e-4):
        fail(target, f"{call_text} returned min_dist={min_dist!r}, expected {expected_dist:.6g}",
             "min_dist is the smallest L2 distance np.linalg.norm(encoding - db_enc), as a float")
    if expected_dist > threshold():
        if outcome.lines != ["Not in the database."]:
            fail(target, f"{call_text} should print 'Not in the database.' (min_dist {expected_dist:.4f} > threshold "
                         f"{threshold():.4f}); it printed {outcome.printed.strip()!r}",
                 "compare min_dist with default_threshold(); don't hard-code 0.7")
        return
    parsed = [parse_who_is_it(line) for line in outcome.lines]
    if len(parsed) != 1 or parsed[0] is None or parsed[0][0] != expected_name \
            or abs(parsed[0][1] - expected_dist) > 1e-3:
        fail(target, f"{call_text} should print \"it's {expected_name}, the distance is {expected_dist:.4f}\"; "
                     f"it printed {outcome.printed.strip()!r}",
             "print(f\"it's {identity}, the distance is {min_dist:.4f}\") when min_dist <= default_threshold()")


def who_is_it_test(target, model) -> None:
    """Test ``who_is_it(image_path, database, model)`` on camera shots, made-up databases and an empty one."""
    database = reference_database(model)
    for image in ("camera_0", "camera_1"):
        check_who_is_it(target, solutions.happy_house_image(image), database, model, f"{image!r}, database, model")
    image = solutions.happy_house_image("camera_0")
    encoding = reference_encoding(image, model)
    t = threshold()
    made_up = (
        {"alice": 1.3 * t, "bob": 0.5 * t, "carol": 0.8 * t},  # the closest in the middle
        {"ann": 0.9 * t, "ben": 0.8 * t, "cat": 0.4 * t},  # the closest last
        {"ann": 1.2 * t, "ben": 1.5 * t},  # nobody close enough: "Not in the database."
    )
    for seed, distances in enumerate(made_up):
        description = ", ".join(f"{name} at {d / t:.1f} x threshold" for name, d in distances.items())
        check_who_is_it(target, image, at_distances(encoding, distances, seed), model, f"camera_0, {{{description}}}")
    check_raises(target, (image, {}, model), EmptyDatabase, "who_is_it with an empty database",
                 hint="keep the check `if not database:` at the top of who_is_it")
    print(PASSED)


# The grader runs these for each graded function (see course.grader).
TESTS = {
    "triplet_loss": (triplet_loss_test,),
    "img_to_encoding": (img_to_encoding_test,),
    "verify": (verify_test,),
    "who_is_it": (who_is_it_test,),
    "select_triplets": (select_triplets_test,),
}
