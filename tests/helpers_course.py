"""Wrong versions of the graded functions ("mutants") that the course's tests must reject, with the hint expected.

Each mutant makes one mistake students make; tests/test_course.py checks that the
public (or hidden) tests fail on it with a message naming the fix.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

from course.photos import find_and_align
from course.solutions import img_to_encoding
from facerec.encoder import default_threshold
from facerec.image import load_image


def _distances(y_pred):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return pos, neg


def triplet_mean(y_true, y_pred, alpha=0.2):
    pos, neg = _distances(y_pred)
    return tf.reduce_mean(tf.maximum(pos - neg + alpha, 0.0))


def triplet_max_of_sum(y_true, y_pred, alpha=0.2):
    pos, neg = _distances(y_pred)
    return tf.maximum(tf.reduce_sum(pos - neg + alpha), 0.0)


def triplet_not_squared(y_true, y_pred, alpha=0.2):
    pos, neg = _distances(y_pred)
    return tf.reduce_sum(tf.maximum(tf.sqrt(pos) - tf.sqrt(neg) + alpha, 0.0))


def triplet_no_alpha(y_true, y_pred, alpha=0.2):
    pos, neg = _distances(y_pred)
    return tf.reduce_sum(tf.maximum(pos - neg, 0.0))


def triplet_ignores_alpha_argument(y_true, y_pred, alpha=0.2):
    pos, neg = _distances(y_pred)
    return tf.reduce_sum(tf.maximum(pos - neg + 0.2, 0.0))


def triplet_numpy(y_true, y_pred, alpha=0.2):
    a, p, n = (np.asarray(x) for x in y_pred)
    return float(np.maximum(((a - p) ** 2).sum(-1) - ((a - n) ** 2).sum(-1) + alpha, 0).sum())


def triplet_vector(y_true, y_pred, alpha=0.2):
    pos, neg = _distances(y_pred)
    return tf.maximum(pos - neg + alpha, 0.0)


def triplet_stops_gradient(y_true, y_pred, alpha=0.2):
    pos, neg = _distances([tf.stop_gradient(x) for x in y_pred])
    return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))


def encoding_not_scaled(image_path, model):
    face, _ = find_and_align(image_path)
    return model.predict_on_batch(face[None].astype(np.float32))


def encoding_not_aligned(image_path, model):
    image = cv2.resize(load_image(image_path), (96, 96), interpolation=cv2.INTER_AREA)
    return model.predict_on_batch(image[None].astype(np.float32) / 255.0)


def encoding_tensor(image_path, model):
    face, _ = find_and_align(image_path)
    return model(face[None].astype(np.float32) / 255.0, training=False)


def encoding_flat(image_path, model):
    return img_to_encoding(image_path, model)[0]


def encoding_fixed_image(image_path, model):
    from course.solutions import happy_house_image

    return img_to_encoding(happy_house_image("camera_0"), model)


def encoding_without_detection(image_path, model):
    """Works on 96x96 crops (the whole image is the face) but not on larger photos."""
    image = load_image(image_path)
    if max(image.shape[:2]) > 96:
        image = cv2.resize(image, (96, 96), interpolation=cv2.INTER_AREA)
    face, _ = find_and_align(image, fallback_to_whole=True)
    return model.predict_on_batch(face[None].astype(np.float32) / 255.0)


def _verify_with(image_path, identity, database, model, distance, accept, messages=True):
    encoding = img_to_encoding(image_path, model)
    dist = distance(encoding, database[identity])
    door_open = accept(dist)
    if messages:
        print(f"It's {identity}, welcome in!" if door_open else f"It's not {identity}, please go away")
    return dist, door_open


def verify_squared(image_path, identity, database, model):
    return _verify_with(image_path, identity, database, model,
                        lambda a, b: float(np.sum((a - b) ** 2)), lambda d: d <= default_threshold())


def verify_no_identity_check(image_path, identity, database, model):
    return _verify_with(image_path, identity, database, model,
                        lambda a, b: float(np.linalg.norm(a - b)), lambda d: d <= default_threshold())


def verify_hard_coded_threshold(image_path, identity, database, model):
    if identity not in database:
        from facerec.exceptions import UnknownIdentity

        raise UnknownIdentity(f"{identity} unknown; known names: {', '.join(database)}")
    if not database:
        raise ValueError("empty")
    return _verify_with(image_path, identity, database, model, lambda a, b: float(np.linalg.norm(a - b)),
                        lambda d: d < 0.7)


def verify_wrong_message(image_path, identity, database, model):
    dist, door_open = _verify_with(image_path, identity, database, model, lambda a, b: float(np.linalg.norm(a - b)),
                                   lambda d: d <= default_threshold(), messages=False)
    print(f"Welcome in, {identity}!" if door_open else "Go away")
    return dist, door_open


def verify_door_as_text(image_path, identity, database, model):
    dist, door_open = _verify_with(image_path, identity, database, model, lambda a, b: float(np.linalg.norm(a - b)),
                                   lambda d: d <= default_threshold())
    return dist, "open" if door_open else "shut"


def who_is_it_first_entry(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    name = next(iter(database))
    dist = float(np.linalg.norm(encoding - database[name]))
    print(f"it's {name}, the distance is {dist:.4f}")
    return dist, name


def who_is_it_forgets_identity(image_path, database, model):
    from facerec.exceptions import EmptyDatabase

    if not database:
        raise EmptyDatabase("empty")
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_enc in database.items():
        dist = float(np.linalg.norm(encoding - db_enc))
        if dist < min_dist:
            min_dist = dist
        identity = name
    if min_dist > default_threshold():
        print("Not in the database.")
    else:
        print(f"it's {identity}, the distance is {min_dist:.4f}")
    return min_dist, identity


def who_is_it_course_original(image_path, database, model):
    """The 2017 course's loop: min_dist starts at 100 and an empty database is not refused."""
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = 100, None
    for name, db_enc in database.items():
        dist = float(np.linalg.norm(encoding - db_enc))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist > default_threshold():
        print("Not in the database.")
    else:
        print("it's " + str(identity) + ", the distance is " + str(min_dist))
    return min_dist, identity


def who_is_it_never_unknown(image_path, database, model):
    from facerec.exceptions import EmptyDatabase

    if not database:
        raise EmptyDatabase("empty")
    encoding = img_to_encoding(image_path, model)
    distances = {name: float(np.linalg.norm(encoding - value)) for name, value in database.items()}
    identity = min(distances, key=distances.get)
    print(f"it's {identity}, the distance is {distances[identity]:.4f}")
    return distances[identity], identity
