"""Write notebooks/Face_Recognition.ipynb, the solution notebook of the Face Recognition assignment.

The notebook's text and code live here; the graded cells are copied from
``course/solutions.py``. Building runs the notebook once with the current weights
(``$FACEREC_WEIGHTS`` or ``weights/``), writes each "Expected output" cell from the
output of the cell it follows, records the weights' fingerprint, and saves the
notebook without outputs. Rebuild whenever the weights or the solutions change::

    .venv/bin/python notebooks/build_notebook.py            # build, run, fill Expected output
    .venv/bin/python notebooks/build_notebook.py --no-run   # only rewrite the cells (Expected output left empty)
    .venv/bin/python notebooks/build_notebook.py --executed build/Face_Recognition.executed.ipynb  # keep outputs
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from course import notebook_tools as tools  # noqa: E402
from course import solutions  # noqa: E402

NOTEBOOK = REPO / "notebooks" / "Face_Recognition.ipynb"
CELLS: list = []


def md(cell_id: str, text: str, tags: tuple[str, ...] = ()) -> None:
    cell = nbformat.v4.new_markdown_cell(text.strip("\n"), id=cell_id)
    if tags:
        cell.metadata["tags"] = list(tags)
    CELLS.append(cell)


def code(cell_id: str, source: str, tags: tuple[str, ...] = (), expected: bool = False,
         tolerance: float = 0.0) -> None:
    """A code cell; ``expected=True`` adds an Expected output cell filled from its output at build time.

    ``tolerance``: how far its numbers may be from the Expected output's (see ``notebook_tools.same_output``).
    """
    cell = nbformat.v4.new_code_cell(source.strip("\n"), id=cell_id)
    if tags:
        cell.metadata["tags"] = list(tags)
    CELLS.append(cell)
    if expected:
        box = nbformat.v4.new_markdown_cell(tools.expected_markdown("(filled in by build_notebook.py)"),
                                            id=f"{cell_id}-expected")
        box.metadata["tags"] = [tools.EXPECTED_TAG]
        box.metadata["course"] = {"expected_output_of": cell_id, **({"tolerance": tolerance} if tolerance else {})}
        CELLS.append(box)


def graded(name: str) -> None:
    """The graded cell of ``name``: its reference solution, copied from course/solutions.py."""
    source = f"# GRADED FUNCTION: {name}\n" + inspect.getsource(getattr(solutions, name))
    code(f"graded-{name.replace('_', '-')}", source, tags=(tools.GRADED_TAG, f"{tools.GRADED_TAG}:{name}"))


# ------------------------------------------------------------------------------------------------- the text

md("title", r"""
# Face Recognition

Welcome! In this assignment you build a face recognition system for the **Happy House**, where the front
door should open for the twelve people who live there and stay shut for everyone else. Many of the ideas come
from [FaceNet](https://arxiv.org/abs/1503.03832) (Schroff et al., 2015); the network is OpenFace's
`nn4.small2` (Amos et al., 2016), here called **FaceRecoModel**.

Face recognition problems come in two kinds:

* **Face verification**, "is this the claimed person?" A 1:1 problem: a phone that unlocks with your face, or
  a gate where you show your badge and the camera checks that the face matches it.
* **Face recognition**, "who is this person?" A 1:K problem: the door recognises a resident without a badge.

FaceRecoModel maps a face image to a vector of 128 numbers, its **encoding**. Two photos of the same person get
encodings close together; photos of different people get encodings far apart. Comparing encodings answers
both questions.

**In this assignment you will:**

* see why comparing raw pixels fails;
* implement the triplet loss that trains the network;
* encode faces with a pretrained FaceRecoModel;
* use the encodings for face verification and for face recognition;
* measure two ways to make recognition more reliable;
* choose hard triplets and train the network's last layer with your own triplet loss.

**How it is graded.** The five cells marked `# GRADED FUNCTION` are yours: write your code between
`### START CODE HERE` and `### END CODE HERE`, replacing each `None`. Keep everything your function needs
inside its cell (the grader runs each graded cell on its own), don't rename the functions, and don't delete
cells. After each graded cell, run the test cell below it; compare what it prints with the **Expected
output**. The instructor's grader runs these public tests and further hidden ones.

The network works channels-last: a batch of faces has shape `(m, 96, 96, 3)`: m images, 96x96 pixels, RGB,
values in [0, 1]. (The original course used Keras 2 with channels first, `(m, 3, 96, 96)`.)
""")

md("packages-text", """
## 0 - Packages

Run the cell below to import everything the assignment uses. The faces are found and aligned by
`course.photos.find_and_align` (`facerec.align`'s HOG detector and alignment),
the network is built by `faceRecoModel` and its weights read by `load_weights_from_FaceNet`. `default_threshold()`
reads the verification threshold from the model card (`weights/model.json`): two encodings belong to the same
person when their distance is at most this threshold.
""")

code("setup", r"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # keep TensorFlow's start-up messages out of the notebook

import numpy as np
import tensorflow as tf

from course import demo, figures
from course.public_tests import (img_to_encoding_test, select_triplets_test, triplet_loss_test, verify_test,
                                 who_is_it_test)
from course.solutions import CAMERA_SHOTS, KNOWN_CAMERA_SHOTS, RESIDENTS, happy_house_image
from course.photos import find_and_align
from facerec.encoder import default_threshold
from facerec.exceptions import EmptyDatabase, UnknownIdentity
from fr_utils import load_weights_from_FaceNet
from inception_blocks import faceRecoModel
""", tags=(tools.SETUP_TAG,))

md("naive-text", r"""
## 1 - Naive face verification

In face verification, you're given two images and you have to tell whether they show the same person. The
simplest way is to compare the two images pixel by pixel: if the distance between the raw images is below a
threshold, call them the same person.

The camera at the door has just photographed Younes (`camera_0`). Run the next cell: it compares that photo
with his photo in the house's records, with two other residents, and with two copies of the camera's own photo,
one with the lights dimmed and one taken a little to the side.
""")

code("naive", r"""
anchor = demo.pixels(happy_house_image("camera_0"))  # Younes at the door: (96, 96, 3) floats in [0, 1]
candidates = [
    ("younes.jpg", demo.pixels(happy_house_image("younes")), True),
    ("camera_0, darker", demo.darkened(anchor, 0.6), True),
    ("camera_0, 16 px to the side", demo.shifted(anchor, 16), True),
    ("felix.jpg", demo.pixels(happy_house_image("felix")), False),
    ("kian.jpg", demo.pixels(happy_house_image("kian")), False),
]
distances = [demo.pixel_distance(anchor, image) for _, image, _ in candidates]
fig = figures.pixel_distances(anchor, "camera_0 (younes)", candidates, distances)
""")

md("naive-why", r"""
Dimming the light or moving the camera a few centimetres changes the pixels of Younes's own photo more than
replacing him by Felix or Kian does: no pixel threshold can accept the first two and refuse the others. Raw
pixels change with lighting, position, head orientation and background, none of which changes who the person
is. Instead of `img`, we will compare an encoding `f(img)` that a network has learned to make insensitive to
those changes.
""")

md("encoding-text", r"""
## 2 - Encoding face images into a 128-dimensional vector

### 2.1 - Using a ConvNet to compute encodings

FaceRecoModel is an Inception network: OpenFace's `nn4.small2`, a smaller version of FaceNet's network. What
you need to know:

* It takes aligned 96x96 RGB faces, a batch of shape $(m, 96, 96, 3)$ with values in [0, 1].
* It outputs a matrix of shape $(m, 128)$: one 128-dimensional encoding per face.
* Its last layer normalises every encoding to unit length, $\lVert f(x) \rVert_2 = 1$, so the distance
  between two encodings is at most 2.

Run the cell below to build the network (with random weights for now) and list its stages.
""")

code("model", r"""
FRmodel = faceRecoModel(input_shape=(96, 96, 3))
print(demo.block_summary(FRmodel))
print("Total Params:", FRmodel.count_params())
""", expected=True)

md("triplet-text", r"""
Encodings are good when:

* the encodings of two images of the same person are quite similar to each other;
* the encodings of two images of different persons are very different.

The **triplet loss** puts this into a formula. It pushes the encodings of two images of the same person (an
*Anchor* A and a *Positive* P) closer together, while pulling the encodings of two images of different persons
(the Anchor and a *Negative* N) further apart. For a training triplet $(A, P, N)$ we want

$$\lVert f(A) - f(P) \rVert_2^2 + \alpha < \lVert f(A) - f(N) \rVert_2^2$$

where the margin $\alpha$ (a hyperparameter, here 0.2) keeps the network from reaching the goal by mapping
everything to the same point. Summed over $m$ triplets, the loss to **minimise** is

$$\mathcal{J} = \sum_{i=1}^{m} \Big[ \underbrace{\lVert f(A^{(i)}) - f(P^{(i)}) \rVert_2^2}_{(1)}
- \underbrace{\lVert f(A^{(i)}) - f(N^{(i)}) \rVert_2^2}_{(2)} + \alpha \Big]_+$$

where $[z]_+ = \max(z, 0)$: a triplet whose negative is already farther than its positive by the margin costs
nothing, and every other triplet costs how far it falls short. Term (1) is the squared distance between the
anchor and the positive, which should be small; term (2) is the squared distance between the anchor and the
negative, which should be large, hence the minus sign.

### Exercise 1 - triplet_loss

Implement the triplet loss in four steps, with TensorFlow operations (so that Keras can differentiate it):

1. Compute the squared distance between the encodings of each anchor and its positive,
   $\lVert f(A^{(i)}) - f(P^{(i)}) \rVert_2^2$, summed over the last axis.
2. Compute the squared distance between each anchor and its negative, $\lVert f(A^{(i)}) - f(N^{(i)}) \rVert_2^2$.
3. For each triplet, compute term (1) minus term (2) plus $\alpha$.
4. Take the maximum with zero for each triplet, then sum over the batch.

**Hints:** `tf.reduce_sum()`, `tf.square()`, `tf.subtract()`, `tf.add()`, `tf.maximum()`. Use `axis=-1` in
steps 1 and 2 so each triplet keeps its own distance; in step 4 sum without an axis to get one number.
""")

graded("triplet_loss")

code("run-triplet-loss", r"""
np.random.seed(1)
y_true = (None, None, None)  # Keras passes labels to every loss; the triplet loss ignores them
y_pred = (tf.constant(np.random.normal(6, 0.1, (3, 128)), tf.float32),
          tf.constant(np.random.normal(1, 1, (3, 128)), tf.float32),
          tf.constant(np.random.normal(3, 4, (3, 128)), tf.float32))
loss = triplet_loss(y_true, y_pred)
print(f"loss = {float(loss):.4f}")
""", expected=True)

code("test-triplet-loss", "triplet_loss_test(triplet_loss)", expected=True)

md("weights-text", r"""
## 3 - Loading the pre-trained model

FaceNet is trained by minimising the triplet loss over many triplets. Training takes a lot of data and
computation, so we load weights that are already trained instead: this project's `nn4.small2` weights (226
CSV files in `weights/`, one per layer tensor), fine-tuned with the triplet loss on the BFW faces, starting from
OpenFace's published weights. The model card beside them (`weights/model.json`) gives the verification
threshold that goes with these weights. Loading takes a few seconds the first time, then under one.
""")

code("load-weights", r"""
load_weights_from_FaceNet(FRmodel)
print(f"threshold = {default_threshold():.4f} (L2 distance between encodings; same person when at most this)")
""")

md("verification-text", r"""
## 4 - Applying the model

You are building a system for the Happy House. You'd like it to let only residents in. With face
**verification**, each person swipes an ID card at the door and the camera checks that the face matches the
card's name.

### 4.1 - Face verification

First, the house needs a **database** with one encoding per resident. An encoding is computed in three steps:

1. find the face in the photo and align it: `find_and_align(image_path)` detects the face, warps it so the eyes
   and nose land at fixed positions, and returns the aligned `(96, 96, 3)` uint8 RGB face and its details. (The
   course's photos are already 96x96 face crops; when no face is detected in such a small image, the course's
   `find_and_align` uses the whole image. That rule is the course's only: the practical `facerec` tool answers
   "no face found" instead, so that a blank wall in front of a door camera never becomes a face.)
2. scale the pixels to [0, 1] (divide by 255) and add a batch axis: shape `(1, 96, 96, 3)`, float32;
3. run the network: `model.predict_on_batch(x)` returns a numpy array of shape `(1, 128)`.

### Exercise 2 - img_to_encoding

Implement `img_to_encoding(image_path, model)` following these three steps.
""")

graded("img_to_encoding")

code("run-img-to-encoding", r"""
encoding = img_to_encoding(happy_house_image("camera_0"), FRmodel)
print("shape:", encoding.shape, encoding.dtype)
print("first four values:", np.round(encoding[0, :4], 4))
print(f"length: {np.linalg.norm(encoding):.4f}")
""", expected=True)

code("test-img-to-encoding", "img_to_encoding_test(img_to_encoding, FRmodel)", expected=True)

md("database-text", r"""
Now build the database: a Python dictionary that maps each resident's name to the encoding of their photo.
""")

code("database", r"""
database = {name: img_to_encoding(happy_house_image(name), FRmodel) for name in RESIDENTS}
print(f"{len(database)} residents:", ", ".join(database))
""", expected=True)

md("triplets-seen-text", r"""
With encodings in hand, look at some triplets through the trained network. For each camera shot (the anchor),
the positive is the same person's photo in the database and the negative another resident whose raw photo looks
much alike. The triplet loss you wrote is zero when the negative is farther than the positive by at least the
margin.
""")

code("triplets-seen", r"""
TRIPLETS = [("camera_0", "younes", "kian"), ("camera_1", "bertrand", "arnaud"), ("camera_2", "benoit", "sebastiano")]
images, pos_dist, neg_dist, losses = [], [], [], []
for names in TRIPLETS:
    anchor, positive, negative = (img_to_encoding(happy_house_image(name), FRmodel) for name in names)
    images.append([demo.pixels(happy_house_image(name)) for name in names])
    pos_dist.append(float(np.sum((anchor - positive) ** 2)))
    neg_dist.append(float(np.sum((anchor - negative) ** 2)))
    losses.append(float(triplet_loss(None, [anchor, positive, negative])))
fig = figures.triplets(images, TRIPLETS, pos_dist, neg_dist, losses)
""")

md("verify-text", r"""
### Exercise 3 - verify

Implement `verify(image_path, identity, database, model)`, which checks whether the person at the door is
`identity`:

1. Compute the encoding of the image with `img_to_encoding(image_path, model)`.
2. Compute the distance between this encoding and the encoding of `identity` in the database:
   `np.linalg.norm(encoding - database[identity])`.
3. Open the door if the distance is at most `default_threshold()`, else keep it shut, and print
   `It's <identity>, welcome in!` or `It's not <identity>, please go away`.

Never write the threshold as a number: it belongs to the weights, and `default_threshold()` reads it from their
model card. The lines that refuse an empty database and an unknown name are given: a typo in a name should say so
and list the names the house knows, not fail with a `KeyError`.
""")

graded("verify")

md("verify-younes-text", r"""
Younes is trying to enter the Happy House and the camera takes a picture of him (`camera_0`). Let's run
your verification on it:
""")

code("run-verify-younes", r"""
dist, door_open = verify(happy_house_image("camera_0"), "younes", database, FRmodel)
print(f"dist = {dist:.4f}, door_open = {door_open}")
""", expected=True)

md("verify-benoit-text", r"""
Benoit has been banned from the Happy House, and he has stolen Kian's ID card. He tries to come in and the
camera takes his picture (`camera_2`):
""")

code("run-verify-benoit", r"""
dist, door_open = verify(happy_house_image("camera_2"), "kian", database, FRmodel)
print(f"dist = {dist:.4f}, door_open = {door_open}")
""", expected=True)

code("test-verify", "verify_test(verify, FRmodel)", expected=True)

md("recognition-text", r"""
### 4.2 - Face recognition

The verification system works, but if a resident's ID card is lost, they can't get in; and cards can be
stolen. Let's change it into a **recognition** system: no more ID cards, the door finds who is there among
the residents.

### Exercise 4 - who_is_it

Implement `who_is_it(image_path, database, model)`:

1. Compute the target encoding of the image.
2. Find the encoding in the database with the smallest distance to the target encoding:
   * start with `min_dist` larger than any distance (it is given: `float("inf")`);
   * loop over the database's names and encodings with `for name, db_enc in database.items():`;
   * compute the L2 distance between the target encoding and `db_enc`;
   * if it is smaller than `min_dist`, set `min_dist` to it and `identity` to `name`.
3. If `min_dist` is above `default_threshold()`, print `Not in the database.`; otherwise print
   `it's <identity>, the distance is <min_dist>` with four decimals.
""")

graded("who_is_it")

md("who-is-it-run-text", r"""
Younes is at the front door and the camera takes his picture (`camera_0`). Let's see if your `who_is_it`
recognises him:
""")

code("run-who-is-it", r"""
min_dist, identity = who_is_it(happy_house_image("camera_0"), database, FRmodel)
print(f"min_dist = {min_dist:.4f}, identity = {identity}")
""", expected=True)

code("test-who-is-it", "who_is_it_test(who_is_it, FRmodel)", expected=True)

md("heatmap-text", r"""
The camera has taken six shots at the door. The heatmap below shows the distance from every resident's
encoding (rows) to every shot's encoding (columns). The door opens for an outlined cell: a distance at or under
the threshold. A star marks who really stands in the shot, for the three shots the story names: Younes, Bertrand
and Benoit. A good model gives each column one outlined cell, on the right person, and none at all for someone
the database doesn't hold.
""")

code("heatmap", r"""
shots = np.concatenate([img_to_encoding(happy_house_image(shot), FRmodel) for shot in CAMERA_SHOTS])
residents = np.concatenate([database[name] for name in RESIDENTS])
distances = demo.distance_matrix(residents, shots)  # (12 residents, 6 shots)
fig = figures.distance_heatmap(distances, RESIDENTS, CAMERA_SHOTS, default_threshold(), KNOWN_CAMERA_SHOTS)
""")

md("banned-text", r"""
Benoit is still in the database, so the recognition system, which needs no ID card, lets him in. Banning him
means taking him out of the database; then the closest resident should be too far away:
""")

code("banned", r"""
without_benoit = {name: encoding for name, encoding in database.items() if name != "benoit"}
min_dist, identity = who_is_it(happy_house_image("camera_2"), without_benoit, FRmodel)
""")

md("edges-text", r"""
What happens with a name the house doesn't know, or before anyone is enrolled? The functions say so clearly:
""")

code("edges", r"""
try:
    verify(happy_house_image("camera_0"), "yunes", database, FRmodel)
except UnknownIdentity as error:
    print("UnknownIdentity:", error)
try:
    who_is_it(happy_house_image("camera_0"), {}, FRmodel)
except EmptyDatabase as error:
    print("EmptyDatabase:", error)
""", expected=True)

md("improve-text", r"""
## 5 - Ways to improve your facial recognition model

The original assignment ends with two suggestions. Let's measure them on photos of 24 people from the LFW
collection, four photos each (the network never saw them in training):

* **Crop the images to just the face**, with less of the border around it. The border (hair, background,
  shoulders) changes from photo to photo without saying anything about who it is. `find_and_align` crops
  and also aligns the face, so the eyes and nose always land on the same pixels.
* **Put several photos of each person in the database** (different lighting, days, expressions) and compare a
  new photo with all of them, keeping the smallest distance.

For each photo in turn, we ask "who is it?" among the 24 people, enrolled with one, two or three of their other
photos.
""")

code("improve-crop", r"""
sample = demo.lfw_sample(people=24, photos=4, seed=0)
first_photos = slice(0, 6 * 4, 4)  # the first photo of the first six people
fig = figures.crop_comparison(sample.whole[first_photos], sample.aligned[first_photos],
                              [name.replace("_", " ") for name in sample.names[:6]])
""")

code("improve-measure", r"""
aligned = demo.encode_faces(FRmodel, sample.aligned)  # (96, 128)
whole = demo.encode_faces(FRmodel, sample.whole)
threshold = default_threshold()
results = {
    "whole photo,\n1 per person": demo.identification_accuracy(whole, sample.labels, 1, threshold),
    "face crop,\n1 per person": demo.identification_accuracy(aligned, sample.labels, 1, threshold),
    "face crop,\n2 per person": demo.identification_accuracy(aligned, sample.labels, 2, threshold),
    "face crop,\n3 per person": demo.identification_accuracy(aligned, sample.labels, 3, threshold),
}
for setting, (top1, admitted) in results.items():
    print(f"{setting.replace(chr(10), ' '):<26} right person: {top1:6.1%}   and door opens: {admitted:6.1%}")
fig = figures.improvement_bars(results)
""")

md("improve-why", r"""
Cropping to the aligned face helps because the network was trained on aligned faces and the border is noise.
More photos per person help because a new photo only needs to be close to *one* of them: one photo in poor
light no longer decides alone.
""")

md("binary-text", r"""
## 6 - Verification as binary classification, and one-shot learning

**Face verification is a binary classification problem:** given a pair of images, output "same person" or
"different people". Using a distance with a threshold is the simplest such classifier: the threshold is its
decision boundary. The histogram below shows the distances of all same-person pairs and all different-person
pairs of the LFW photos above; the threshold from the model card separates them as well as one number can, and
the pairs on the wrong side are this classifier's errors.

Instead of the triplet loss, a network can also be trained directly as a binary classifier: a **Siamese network**
computes both encodings with the same weights and feeds their element-wise differences to a logistic unit,

$$\hat{y} = \sigma\Big(\sum_{k=1}^{128} w_k \,\big| f(x^{(i)})_k - f(x^{(j)})_k \big| + b\Big),$$

trained on pairs labelled 1 (same person) or 0 (different people). DeepFace (Taigman et al., 2014) did this.
""")

code("binary", r"""
pairs = demo.distance_matrix(aligned, aligned)
upper = np.triu_indices(len(sample.labels), k=1)
same_person = sample.labels[upper[0]] == sample.labels[upper[1]]
same, different = pairs[upper][same_person], pairs[upper][~same_person]
print(f"{len(same)} same-person pairs, accepted: {np.mean(same <= threshold):.1%}")
print(f"{len(different)} different-person pairs, refused: {np.mean(different > threshold):.1%}")
fig = figures.pair_distances(same, different, threshold)
""")

md("siamese-text", r"""
**Optional (not graded): learning the logistic unit.** The formula has $128 + 1$ parameters, $w_1, \dots, w_{128}$
and $b$. FaceRecoModel is already trained, so we keep its encodings fixed and learn only these: logistic regression
on pairs, a pair of photos of one person labelled 1 and a pair of two people labelled 0, trained with binary
cross-entropy. The pairs come from BFW, the faces the network was fine-tuned on: 120 people (15 from each of its
eight demographic groups), 8 photos each, 20 same-person pairs per person and as many different-person pairs
with someone of the same group (people of two groups are too easy to tell apart to teach much). LFW stays out
of training: we test on the LFW pairs above.

The lecture also shows a second form, DeepFace's $\chi^2$ similarity, with
$\frac{(f(x^{(i)})_k - f(x^{(j)})_k)^2}{f(x^{(i)})_k + f(x^{(j)})_k}$ in place of $|f(x^{(i)})_k - f(x^{(j)})_k|$.
DeepFace's features are never negative; ours are, so that denominator can be zero or negative. `facerec.head`
divides by $|f(x^{(i)})_k| + |f(x^{(j)})_k|$ instead (the same value where the two entries have the same sign).
Both forms are symmetric: swapping the two photos gives the same $\hat{y}$.
""")

code("siamese-train", r"""
from course import siamese

bfw_encodings, bfw_labels, bfw_groups = siamese.bfw_sample(FRmodel, identities=120, photos=8)  # 960 faces
heads = {form: siamese.train(bfw_encodings, bfw_labels, bfw_groups, form) for form in ("abs", "chi2")}
for form, head in heads.items():
    print(f"{form:>4}: b = {head.bias:6.2f}, w_k from {head.weights.min():.2f} to {head.weights.max():.2f}, "
          f"{np.mean(head.weights < 0):.0%} of them negative")
fig = siamese.plot_weights(heads)
""")

md("siamese-roc-text", r"""
Now compare three pair scores on the LFW pairs of the histogram: the L2 distance, and $1 - \hat{y}$ of each head
(all three "smaller = more alike"). A ROC curve shows, over every possible threshold, the fraction of same-person
pairs accepted (true-accept rate) against the fraction of different-person pairs accepted (false-accept rate);
the area under it (AUC) is 1 for a score that ranks every same-person pair before every different-person pair.
""")

code("siamese-roc", r"""
first, second = aligned[upper[0]], aligned[upper[1]]
scores = {"L2 distance": pairs[upper]}
scores.update({f"1 - p, {form} head": head.dissimilarity(first, second) for form, head in heads.items()})
for form, head in heads.items():
    accepted = head.probability(first, second) >= 0.5
    print(f"{form:>4} head, p >= 0.5:     accepts {accepted[same_person].mean():6.1%} of same-person pairs and "
          f"{accepted[~same_person].mean():6.1%} of different-person pairs")
print(f"L2 distance <= threshold: accepts {np.mean(same <= threshold):6.1%} of same-person pairs and "
      f"{np.mean(different <= threshold):6.1%} of different-person pairs")
fig = siamese.plot_roc(scores, same_person)
""")

md("siamese-why", r"""
About three quarters of the learned weights are negative: a difference in those dimensions speaks against "same
person", as in the distance. The others are positive: the 128 dimensions are not independent (every encoding has
length 1), so the unit can offset a difference in one dimension against one in another. The weights are not
equal, so the head can count some dimensions more than others, which the distance cannot; yet on these new people
it does not rank pairs better than the plain distance (compare the AUCs). The triplet loss already shaped the
encodings for the distance, and the head learns from the faces the network was trained on, where two photos of
one person are closer together than on faces it has never seen.

That also limits what the head adds, a **probability**: trained with cross-entropy on as many same-person as
different-person pairs, $\hat{y}$ is calibrated for even odds *on pairs like its training pairs*. On LFW, at
$\hat{y} \geq 0.5$, the heads reject many more same-person pairs than the distance with the model card's threshold
(which was chosen on LFW development pairs). A probability is only as good as the match between the pairs it was
fitted on and the pairs it is used on. `docs/HEAD.md` compares the three scores on LFW's 6,000 pairs, and
`facerec.verify(..., method="head-abs")` reports the probability.
""")

md("one-shot-text", r"""
**One-shot learning.** The Happy House has one photo per resident, and new residents arrive. A classifier with
one softmax output per resident would need many photos of each and retraining for every newcomer. Face
recognition instead learns a *similarity function*, $d(\text{img}_1, \text{img}_2)$, here the distance between
encodings: enrolling a new person takes one photo and one `img_to_encoding` call, and nothing is retrained. That
is one-shot learning: recognising a person from a single example.
""")

md("training-text", r"""
## 7 - Training with your triplet loss

FaceRecoModel came trained. Now you train part of it yourself, with the `triplet_loss` you wrote in Exercise 1.
Training the whole network takes hours; instead we keep every layer up to the last one fixed and train only the
last: the dense layer that maps the 736 numbers of the average-pooled `inception_5b` output to the 128 numbers
of the encoding ($736 \times 128 + 128 = 94{,}336$ parameters), followed by the normalisation to length 1. The
736 numbers of each face are computed once and cached, so a training step is one small matrix product.

**Which triplets?** A training batch holds 8 people with 4 photos each. Every ordered anchor-positive pair
$(a, p)$, two different photos of one person ($8 \times 4 \times 3 = 96$ pairs), needs a negative. Chosen at
random, most negatives are already farther from the anchor than the positive by more than the margin: their
triplet costs nothing, so it teaches nothing. FaceNet (section 3.2) chooses **semi-hard** negatives instead,
farther from the anchor than the positive but still within the margin:

$$\lVert f(A) - f(P) \rVert_2^2 < \lVert f(A) - f(N) \rVert_2^2 < \lVert f(A) - f(P) \rVert_2^2 + \alpha .$$

Such a triplet still costs something, so it moves the weights; and it is not the very hardest one (the hardest
negatives of a large data set are often mislabelled or badly cropped photos, which FaceNet found can make
training collapse early on). When a pair has no semi-hard negative, take the hardest one: the closest negative.

### Exercise 5 - select_triplets

Implement `select_triplets(encodings, labels, alpha)`. It returns three integer arrays, one entry per triplet:
the positions in the batch of the anchor, the positive and the negative.

1. Compute the squared distance between every two encodings, a matrix of shape `(m, m)`. Broadcasting
   `encodings[:, None, :] - encodings[None, :, :]` gives every difference at once, shape `(m, m, 128)`.
2. Loop over the anchors `a`, then the positives `p`, both over every position of the batch in increasing order.
3. The candidate negatives are the images of other persons: `np.flatnonzero(labels != labels[a])`.
4. `(a, p)` makes a triplet when `p` is another image of the anchor's person (`p != a`, same label) and there is
   at least one candidate (a batch of one person makes no triplet).
5. Keep the semi-hard candidates, those with $d(a, p) < d(a, n) < d(a, p) + \alpha$.
6. Take the semi-hard candidate closest to the anchor; when there is none, the closest candidate of all.
   `np.argmin` returns the first of equal values, so ties go to the lowest index, as the tests expect.
7. Append `a`, `p` and the negative to the three lists.

The test names the common mistakes when it sees one: the farthest negative (the easiest) instead of the closest,
the hardest negative even where semi-hard ones exist, distances that are not squared, a pair dropped when none
of its negatives is semi-hard.
""")

graded("select_triplets")

md("run-select-triplets-text", r"""
Try it on five "encodings" that differ only in their first number, so the distances can be worked out on paper:
photos 0 and 1 are one person, 2 and 3 another, 4 a third person far away. For the pair (0, 1), $d = 0.01$;
the negatives 2, 3 and 4 are at $0.25$, $0.1225$ and $4$, and only photo 3 is within the margin.
""")

code("run-select-triplets", r"""
points = np.zeros((5, 128), np.float32)
points[:, 0] = [0.0, 0.1, 0.5, 0.35, 2.0]
anchors, positives, negatives = select_triplets(points, np.array([0, 0, 1, 1, 2]), alpha=0.2)
for a, p, n in zip(anchors, positives, negatives):
    print(f"anchor {a}, positive {p}: negative {n}")
""", expected=True)

code("test-select-triplets", "select_triplets_test(select_triplets)", expected=True)

md("training-run-text", r"""
Now train. The faces are the 120 BFW people of section 6 (faces the network was trained on, never the Happy
House or LFW): 96 of them to train on, and 24 (the last three of each of BFW's eight groups) kept out to test
on. Both runs start from the same **fresh** dense layer (random weights, as Keras initialises a new layer) and
take 300 steps of Adam (learning rate 0.001) on the same batches; the step's loss is your `triplet_loss` divided
by the number of triplets. One run takes random negatives, the other the ones your `select_triplets` chooses.

Each run's loss is measured on its own triplets, so the two losses cannot be compared: hard triplets cost more by
design. The plot's third panel is the same yardstick for both: on the held-out people, for every anchor-positive
pair, the closest photo of *someone else*; the fraction of pairs where that stranger is within the margin,
$d(a, n) < d(a, p) + \alpha$. It is zero when every held-out triplet satisfies the margin, and it is what
recognition needs: the right person closer than everyone else. The run takes about five seconds.
""")

code("training-run", r"""
from course import triplet_training as training

features, people, groups = training.bfw_features(FRmodel, identities=120, photos=8)  # (960, 736): section 6's faces
held_out = training.held_out_split(people, groups, per_group=3)  # 24 people, never trained on
test_set = (features[held_out], people[held_out])
fresh = training.fresh_layer(seed=0)
runs = [training.train_last_layer(features[~held_out], people[~held_out], fresh, triplet_loss, select=select,
                                  held_out=test_set, steps=300, seed=0)
        for select in (None, select_triplets)]
print(f"held-out pairs with a stranger within the margin, fresh layer:  {runs[0].held_out_hard[0]:.2f}")
for run in runs:
    print(f"{run.name:>8} triplets: final loss {np.mean(run.losses[-50:]):.4f}, "
          f"{np.mean(run.violating[-50:]):.2f} of its triplets violating; held-out {run.held_out_hard[-1]:.2f}")
own, _ = training.hard_pairs(training.encode(test_set[0], training.dense_layer(FRmodel)), test_set[1], alpha=0.2)
print(f"FaceRecoModel's own last layer (trained on 800 BFW people):     held-out {own:.2f}")
fig = training.plot_training(runs)
""", expected=True, tolerance=0.05)

md("training-distances-text", r"""
The distances of the held-out people, before and after: every pair of two photos of one person (orange) and
of two people (blue).
""")

code("training-distances", r"""
panels = {"fresh layer (before)": training.encode(test_set[0], fresh)}
panels.update({f"after {run.name} triplets": training.encode(test_set[0], run.weights) for run in runs})
fig = training.plot_distances(panels, test_set[1], alpha=0.2)
""")

md("training-why", r"""
With random negatives the loss is near zero from the start: almost every random stranger is already beyond the
margin, so almost every triplet costs nothing and the gradient has little to push. The held-out yardstick falls
at first and then stalls. Your semi-hard triplets keep a loss: each batch offers the pairs that still need work,
so the held-out yardstick falls faster and further, close to FaceRecoModel's own last layer, which was trained
on all 800 BFW people. The histograms show what both runs learned: the same-person distances (orange) grow a
little, the different-person distances (blue) move much further out, and the gap between the two widens.

The fresh layer's distances look well separated already: a random projection of good features keeps much of
their structure. What it lacks is the margin between a pair and its *closest* stranger, which is what the
triplet loss and the triplet selection are about. If your `select_triplets` is wrong (say it takes the
farthest negative), this run shows it too: its curve lies on the random one's, or above.
""")

md("remember", r"""
## What you should remember

* Face verification solves an easier 1:1 matching problem; face recognition addresses a harder 1:K matching
  problem.
* The triplet loss is an effective loss function for training a neural network to learn an encoding of a face
  image.
* The same encoding can be used for verification and recognition. Measuring distances between two images'
  encodings lets you determine whether they are pictures of the same person.
* The threshold belongs to the weights: read it from their model card.
* Cropping to the aligned face and enrolling several photos per person make recognition more reliable.
* The triplet loss learns only from triplets that still violate the margin: random triplets mostly don't, so
  choose them (semi-hard negatives) and training moves.

### References

* Florian Schroff, Dmitry Kalenichenko, James Philbin (2015).
  [FaceNet: A Unified Embedding for Face Recognition and Clustering](https://arxiv.org/abs/1503.03832).
* Yaniv Taigman, Ming Yang, Marc'Aurelio Ranzato, Lior Wolf (2014).
  [DeepFace: Closing the gap to human-level performance in face verification](https://research.facebook.com/publications/deepface-closing-the-gap-to-human-level-performance-in-face-verification/).
* Brandon Amos, Bartosz Ludwiczuk, Mahadev Satyanarayanan (2016). OpenFace: A general-purpose face recognition
  library with mobile applications. CMU-CS-16-118.
* The original assignment: deeplearning.ai, Convolutional Neural Networks, week 4, "Face Recognition".
""")


# --------------------------------------------------------------------------------------------------- building


def notebook() -> nbformat.NotebookNode:
    """The solution notebook, cells locked, without outputs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.from_dict(cell) for cell in CELLS]
    for cell in nb.cells:
        tools.lock(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["course"] = {"version": "solution", "built_by": "notebooks/build_notebook.py"}
    return nb


def weights_fingerprint() -> str:
    """Fingerprint of the weights the notebook runs with (see facerec.models.weights.weights_fingerprint)."""
    from facerec.models.weights import weights_fingerprint as fingerprint

    return fingerprint(solutions.load_model())


def build(run: bool = True, path: Path = NOTEBOOK, executed: Path | None = None) -> Path:
    """Write the notebook; with ``run``, execute it and fill its Expected output cells first.

    ``executed``: also save the run notebook with its outputs there (figures included), for review.
    """
    nb = notebook()
    if run:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        start = time.perf_counter()
        tools.execute(nb, path.parent)
        print(f"ran the notebook in {time.perf_counter() - start:.1f} s")
        tools.fill_expected(nb)
        nb.metadata["language_info"] = {"name": "python"}  # not the build machine's Python version
        nb.metadata["course"]["weights_fingerprint"] = weights_fingerprint()
        if executed:
            print(f"wrote {tools.write(nb, executed)} (with outputs)")
        tools.strip_outputs(nb)
    return tools.write(nb, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="don't execute; Expected output cells stay empty")
    parser.add_argument("--out", type=Path, default=NOTEBOOK, help="where to write (default: %(default)s)")
    parser.add_argument("--executed", type=Path, help="also save the run notebook, outputs included, here")
    args = parser.parse_args()
    print(f"wrote {build(run=not args.no_run, path=args.out, executed=args.executed)}")


if __name__ == "__main__":
    main()
