"""Reference solutions of the Face Recognition assignment, and the Happy House data.

The five graded functions below are copied verbatim into the notebook's graded
cells by ``notebooks/build_notebook.py``; the code between ``### START CODE HERE``
and ``### END CODE HERE`` is what a student writes (``python -m course
generate-student`` replaces it with ``None`` placeholders). They use only the
names the notebook's setup cell imports: ``np``, ``tf``, ``find_and_align``,
``default_threshold``, ``EmptyDatabase``, ``UnknownIdentity``.

Encodings are ``(1, 128)`` float32 rows of unit length; distances are Euclidean
(L2) distances between encodings; a face matches when its distance is at most
``default_threshold()`` (the model card's threshold in ``weights/model.json``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from course import GRADED_FUNCTIONS
from course.photos import find_and_align
from facerec.encoder import default_threshold, default_weights_dir
from facerec.exceptions import EmptyDatabase, ImageNotReadable, UnknownIdentity
from facerec.paths import IMAGES_DIR, assets_dir

__all__ = [
    "RESIDENTS", "CAMERA_SHOTS", "KNOWN_CAMERA_SHOTS", "GRADED_FUNCTIONS",
    "triplet_loss", "img_to_encoding", "verify", "who_is_it", "select_triplets",
    "happy_house_image", "build_database", "load_model",
]

# The twelve residents of the Happy House (the course's database), alphabetical.
RESIDENTS = ("andrew", "arnaud", "benoit", "bertrand", "dan", "danielle",
             "felix", "kevin", "kian", "sebastiano", "tian", "younes")
# The six shots of the front-door camera.
CAMERA_SHOTS = tuple(f"camera_{i}" for i in range(6))
# Who stands at the door in the shots whose identity the course states.
KNOWN_CAMERA_SHOTS = {"camera_0": "younes", "camera_1": "bertrand", "camera_2": "benoit"}
_SUFFIXES = (".jpg", ".png", ".jpeg")


# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    """FaceNet's triplet loss, summed over the batch.

    Arguments:
        y_true: true labels; Keras passes them to every loss, this one ignores them.
        y_pred: list or tuple ``[anchor, positive, negative]``, each of shape ``(m, 128)``:
            encodings of the anchor images, of other images of the same persons
            (positives) and of images of other persons (negatives).
        alpha: the margin, in squared-distance units (default 0.2).

    Returns:
        loss: scalar tensor, ``sum_i max(||a_i - p_i||^2 - ||a_i - n_i||^2 + alpha, 0)``.
    """
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    ### START CODE HERE
    # Step 1: squared distance between each anchor and its positive, summed over the last axis (≈ 1 line)
    pos_dist = tf.reduce_sum(tf.square(tf.subtract(anchor, positive)), axis=-1)
    # Step 2: squared distance between each anchor and its negative, summed over the last axis (≈ 1 line)
    neg_dist = tf.reduce_sum(tf.square(tf.subtract(anchor, negative)), axis=-1)
    # Step 3: subtract the two distances and add alpha (≈ 1 line)
    basic_loss = tf.add(tf.subtract(pos_dist, neg_dist), alpha)
    # Step 4: take the maximum of basic_loss and 0.0 for each triplet, then sum over the batch (≈ 1 line)
    loss = tf.reduce_sum(tf.maximum(basic_loss, 0.0))
    ### END CODE HERE
    return loss


# GRADED FUNCTION: img_to_encoding
def img_to_encoding(image_path, model):
    """Encode the face in an image with FaceRecoModel.

    Arguments:
        image_path: path of a photo (any size; a 96x96 face crop works too).
        model: FaceRecoModel with its weights loaded.

    Returns:
        embedding: numpy array of shape ``(1, 128)``, float32, unit length.
    """
    ### START CODE HERE
    # Step 1: find and align the face; find_and_align returns (face, details), face is (96, 96, 3) uint8 (≈ 1 line)
    face, details = find_and_align(image_path)
    # Step 2: scale the pixels to [0, 1] as float32 and add a batch axis: shape (1, 96, 96, 3) (≈ 1 line)
    x = np.expand_dims(face.astype(np.float32) / 255.0, axis=0)
    # Step 3: run the model on the batch; model.predict_on_batch returns a numpy array (1, 128) (≈ 1 line)
    embedding = model.predict_on_batch(x)
    ### END CODE HERE
    return embedding


# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    """Check whether the person in ``image_path`` is ``identity`` (face verification, 1:1).

    Arguments:
        image_path: path of the photo taken by the camera at the door.
        identity: the name the person claims (a key of ``database``).
        database: dict mapping names to encodings of shape ``(1, 128)``.
        model: FaceRecoModel with its weights loaded.

    Returns:
        dist: L2 distance between the image's encoding and ``database[identity]``.
        door_open: True when ``dist <= default_threshold()``, else False.

    Raises:
        EmptyDatabase: ``database`` holds nobody.
        UnknownIdentity: ``identity`` is not in ``database`` (the message lists the known names).
    """
    if not database:
        raise EmptyDatabase("the database is empty; add people first: database[name] = img_to_encoding(path, model)")
    if identity not in database:
        raise UnknownIdentity(f"{identity!r} is not in the database; known names: {', '.join(sorted(database))}")
    ### START CODE HERE
    # Step 1: compute the encoding of the image with img_to_encoding (≈ 1 line)
    encoding = img_to_encoding(image_path, model)
    # Step 2: compute the L2 distance to identity's encoding with np.linalg.norm, as a Python float (≈ 1 line)
    dist = float(np.linalg.norm(encoding - database[identity]))
    # Step 3: open the door if dist <= default_threshold(), else keep it shut (≈ 5 lines)
    if dist <= default_threshold():
        print(f"It's {identity}, welcome in!")
        door_open = True
    else:
        print(f"It's not {identity}, please go away")
        door_open = False
    ### END CODE HERE
    return dist, door_open


# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    """Find who is in ``image_path`` among the people of ``database`` (face recognition, 1:K).

    Arguments:
        image_path: path of the photo taken by the camera at the door.
        database: dict mapping names to encodings of shape ``(1, 128)``.
        model: FaceRecoModel with its weights loaded.

    Returns:
        min_dist: the smallest L2 distance between the image's encoding and the database's.
        identity: the name with that smallest distance (returned even when it is
            above the threshold and "Not in the database." is printed).

    Raises:
        EmptyDatabase: ``database`` holds nobody.
    """
    if not database:
        raise EmptyDatabase("the database is empty; add people first: database[name] = img_to_encoding(path, model)")
    ### START CODE HERE
    # Step 1: compute the target encoding of the image with img_to_encoding (≈ 1 line)
    encoding = img_to_encoding(image_path, model)
    ### END CODE HERE
    # Step 2: find the closest encoding; start with a distance larger than any real one
    min_dist = float("inf")
    identity = None
    ### START CODE HERE
    # Loop over the database's names and encodings (≈ 1 line)
    for name, db_enc in database.items():
        # Compute the L2 distance between the target encoding and this name's encoding, as a float (≈ 1 line)
        dist = float(np.linalg.norm(encoding - db_enc))
        # If this distance is smaller than min_dist, remember it as min_dist and name as identity (≈ 3 lines)
        if dist < min_dist:
            min_dist = dist
            identity = name
    # Print "Not in the database." when min_dist is above default_threshold(), else who it is (≈ 4 lines)
    if min_dist > default_threshold():
        print("Not in the database.")
    else:
        print(f"it's {identity}, the distance is {min_dist:.4f}")
    ### END CODE HERE
    return min_dist, identity


# GRADED FUNCTION: select_triplets
def select_triplets(encodings, labels, alpha=0.2):
    """Choose a negative for every anchor-positive pair of a batch (FaceNet's semi-hard selection, section 3.2).

    Arguments:
        encodings: numpy array of shape ``(m, 128)``, the batch's encodings.
        labels: numpy array of shape ``(m,)``, who each encoding is (equal labels: the same person).
        alpha: the margin, in squared-distance units (default 0.2), as in ``triplet_loss``.

    Returns:
        anchors, positives, negatives: integer numpy arrays of the same length, one entry per ordered
        pair ``(a, p)`` of two different images of the same person that has at least one image of
        another person, ordered by ``a`` then ``p``. ``negatives[i]`` is the pair's semi-hard negative:
        of the other persons' images ``n`` with ``d(a, p) < d(a, n) < d(a, p) + alpha`` (squared L2
        distances), the one closest to the anchor; when there is none, the closest negative of all
        (the hardest). Ties go to the lowest index.
    """
    encodings, labels = np.asarray(encodings, dtype=np.float64), np.asarray(labels)
    anchors, positives, negatives = [], [], []
    ### START CODE HERE
    # Step 1: the squared distances between every two encodings, shape (m, m) (≈ 1 line)
    dist = np.sum(np.square(encodings[:, None, :] - encodings[None, :, :]), axis=-1)
    # Step 2: loop over the anchors a, then the positives p (≈ 2 lines)
    for a in range(len(labels)):
        for p in range(len(labels)):
            # Step 3: the candidate negatives, the images of other persons (≈ 1 line)
            candidates = np.flatnonzero(labels != labels[a])
            # Step 4: (a, p) makes a triplet when p is another image of a's person and there are candidates (≈ 1 line)
            if p != a and labels[p] == labels[a] and len(candidates) > 0:
                # Step 5: the semi-hard candidates: farther than the positive but within the margin (≈ 2 lines)
                d_an = dist[a, candidates]
                semi_hard = candidates[(d_an > dist[a, p]) & (d_an < dist[a, p] + alpha)]
                # Step 6: the closest semi-hard candidate, else the closest candidate of all (≈ 2 lines)
                pool = semi_hard if len(semi_hard) > 0 else candidates
                negative = pool[np.argmin(dist[a, pool])]
                # Step 7: keep the triplet (≈ 3 lines)
                anchors.append(a)
                positives.append(p)
                negatives.append(negative)
    ### END CODE HERE
    return np.array(anchors, dtype=int), np.array(positives, dtype=int), np.array(negatives, dtype=int)


def happy_house_image(name: str) -> str:
    """Path of a Happy House photo (``"younes"``, ``"camera_0"``, ...), as a string.

    Looks in the repository's ``images/`` (filled by ``facerec setup``), then in
    ``$FACEREC_ASSETS/happy-house/images``. Every photo is a 96x96 RGB face crop.

    Raises:
        ImageNotReadable: the photo is in neither folder.
    """
    stem = Path(name).stem
    folders = (IMAGES_DIR, assets_dir() / "happy-house" / "images")
    for folder in folders:
        for suffix in _SUFFIXES:
            path = folder / f"{stem}{suffix}"
            if path.is_file():
                return str(path)
    raise ImageNotReadable(f"no Happy House photo named {stem!r} in {folders[0]} or {folders[1]}; "
                           "run `facerec setup` (or set FACEREC_ASSETS to the shared assets folder)")


def build_database(model, names=RESIDENTS, encode=img_to_encoding) -> dict[str, np.ndarray]:
    """The course's database: ``{name: encode(happy_house_image(name), model)}``, each ``(1, 128)``."""
    return {name: encode(happy_house_image(name), model) for name in names}


@functools.cache
def _load_model(weights_dir: str):
    from fr_utils import load_weights_from_FaceNet
    from inception_blocks import faceRecoModel

    return load_weights_from_FaceNet(faceRecoModel(), weights_dir)


def load_model(weights_dir: str | os.PathLike | None = None):
    """FaceRecoModel with the weights of ``weights_dir`` (default ``$FACEREC_WEIGHTS`` or ``weights/``), shared."""
    return _load_model(str(Path(weights_dir or default_weights_dir()).resolve()))
