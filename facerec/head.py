"""Verification as binary classification: a logistic unit on a pair's element-wise differences.

Both faces go through the same encoder ``f`` (nn4.small2, a *siamese* use of one network) and
one logistic unit reads a symmetric feature of each of the 128 dimensions:

    p(same | x_i, x_j) = sigmoid(sum_k w_k * phi_k(f(x_i), f(x_j)) + b)

with two forms of ``phi`` (the lecture notes' two; DeepFace, Taigman et al. 2014, section 4.2):

* ``abs``:  ``phi_k = |f_ik - f_jk|``;
* ``chi2``: ``phi_k = (f_ik - f_jk)^2 / (|f_ik| + |f_jk| + eps)``, ``eps = 1e-6``. DeepFace divides by
  ``f_ik + f_jk``, which is positive for its ReLU features; our unit-length encodings have negative
  entries, so that sum can vanish or change sign. Dividing by ``|f_ik| + |f_jk|`` keeps the feature
  well defined and bounded: ``0 <= phi_k <= |f_ik| + |f_jk|`` (since ``|a - b| <= |a| + |b|``), ``0`` when
  the entries are equal, and ``eps`` only settles ``0 / 0``. Where the signs agree it equals DeepFace's form.

Both features are symmetric in ``(i, j)``, so a pair's score does not depend on its order.

The head is trained with binary cross-entropy on *balanced* pairs (as many same-person pairs as
different-person pairs) drawn from the BFW identities the encoder was trained on, never from LFW, which
is kept for evaluation. Different-person pairs are drawn within one of BFW's eight demographic groups:
pairs across groups are easy to reject and would teach the unit too lenient a boundary for impostors
who look alike. Its output is therefore a calibrated probability for a prior of 1/2 (equal odds
of same and different before looking at the faces), on pairs like the training ones; the decision is at
``p >= 0.5``. For the LFW protocol (:func:`facerec.evaluate.ten_fold`, which wants "smaller = more alike")
the pair score is ``1 - p``, computed as ``sigmoid(-z)`` in float64 so no pair is lost to rounding near 1.

A head belongs to the encoder weights it was trained on: :func:`save_head` records their fingerprint
and :func:`load_head` refuses other weights (:class:`~facerec.exceptions.ModelMismatch`). Files are
``.npz`` archives of plain arrays (no pickle): ``weights/head_abs.npz``, ``weights/head_chi2.npz``,
written by ``facerec train-head --form abs|chi2``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facerec.exceptions import InvalidArgument, ModelMismatch, WeightsError
from facerec.paths import DATASETS_DIR

FORMS = ("abs", "chi2")
METHODS = {"head-abs": "abs", "head-chi2": "chi2"}  # evaluation / API method name -> head form
CHI2_EPS = 1e-6
ENCODING_SIZE = 128
DECISION = 0.5  # accept a pair when p(same) >= DECISION
FILE_FORMAT = "facerec-siamese-head/1"


def _check_form(form: str) -> str:
    if form not in FORMS:
        raise InvalidArgument(f"unknown head form {form!r}; choose one of {', '.join(FORMS)}")
    return form


def pair_features(a: np.ndarray, b: np.ndarray, form: str) -> np.ndarray:
    """The head's input features of encoding pairs (see the module docstring for the formulas).

    Args:
        a, b: ``(N, 128)`` or ``(128,)`` encodings; a single encoding broadcasts against many.
        form: ``"abs"`` or ``"chi2"``.

    Returns:
        ``(N, 128)`` float64 non-negative features, symmetric in ``a`` and ``b``.
    """
    _check_form(form)
    a = np.atleast_2d(np.asarray(a, np.float64))
    b = np.atleast_2d(np.asarray(b, np.float64))
    if a.shape[1:] != (ENCODING_SIZE,) or b.shape[1:] != (ENCODING_SIZE,):
        raise InvalidArgument(f"expected encodings of shape (N, {ENCODING_SIZE}), got {a.shape} and {b.shape}")
    if form == "abs":
        return np.abs(a - b)
    return (a - b) ** 2 / (np.abs(a) + np.abs(b) + CHI2_EPS)


def _features_op(a, b, form: str):
    """:func:`pair_features` with Keras ops (float32, inside the model)."""
    from keras import ops

    if form == "abs":
        return ops.abs(a - b)
    return ops.square(a - b) / (ops.abs(a) + ops.abs(b) + CHI2_EPS)


def build_head(form: str, feature_mean: np.ndarray | None = None, feature_std: np.ndarray | None = None):
    """The siamese head as a Keras model: two ``(N, 128)`` encodings -> ``(N, 1)`` p(same).

    Layers: ``<form>_features`` (:func:`pair_features`), ``standardize`` (fixed ``(phi - mean) / std``,
    default mean 0 and std 1), ``logistic`` (``Dense(1, sigmoid)``). Standardizing the features only
    conditions the optimisation (the raw features share a large common mode); the unit is still
    ``sigmoid(w . phi + b)`` with ``w = w' / std`` and ``b = b' - w . mean`` (:meth:`SiameseHead.from_model`).
    The logistic unit starts at zero (p = 0.5 for every pair), so a training run depends on its seed
    only through the pairs and their order.
    """
    import keras

    _check_form(form)
    mean = np.zeros(ENCODING_SIZE) if feature_mean is None else np.asarray(feature_mean, np.float64)
    std = np.ones(ENCODING_SIZE) if feature_std is None else np.asarray(feature_std, np.float64)
    first = keras.Input((ENCODING_SIZE,), name="first")
    second = keras.Input((ENCODING_SIZE,), name="second")
    features = keras.layers.Lambda(lambda t: _features_op(t[0], t[1], form), name=f"{form}_features")([first, second])
    standard = keras.layers.Normalization(mean=mean, variance=std ** 2, name="standardize")(features)
    probability = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros", name="logistic")(standard)
    return keras.Model([first, second], probability, name=f"siamese_head_{form}")


def sample_pairs(labels: np.ndarray, pairs_per_identity: int, rng: np.random.Generator,
                 groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced training pairs: for each identity with two photos or more, ``pairs_per_identity``
    same-person pairs (two different photos) and as many different-person pairs (one of its photos
    and a photo of another identity drawn uniformly; with ``groups``, of another identity of the
    same group, when the group has one).

    Args:
        labels: ``(N,)`` identity of each photo.
        pairs_per_identity: same-person pairs per identity (and as many different-person pairs).
        rng: the generator every draw comes from.
        groups: ``(N,)`` demographic group of each photo (BFW's), or None.

    Returns:
        ``(first, second, same)``: row indices into ``labels`` and a bool per pair; identity by identity
        (sorted), its same-person pairs then its different-person pairs; deterministic for a given ``rng`` state.
    """
    labels = np.asarray(labels)
    groups = None if groups is None else np.asarray(groups)
    identities, counts = np.unique(labels, return_counts=True)
    if len(identities) < 2 or counts.max() < 2:
        raise InvalidArgument("training pairs need at least two identities and one with two photos or more")
    rows_of = {identity: np.flatnonzero(labels == identity) for identity in identities}
    first, second, same = [], [], []
    for identity in identities[counts >= 2]:
        rows = rows_of[identity]
        i = rng.integers(0, len(rows), size=pairs_per_identity)
        j = rng.integers(0, len(rows) - 1, size=pairs_per_identity)
        first.extend(rows[i])
        second.extend(rows[j + (j >= i)])  # another photo of the same identity
        same.extend([True] * pairs_per_identity)
        others = np.flatnonzero(labels != identity)
        if groups is not None and (groups[others] == groups[rows[0]]).any():
            others = others[groups[others] == groups[rows[0]]]
        first.extend(rng.choice(rows, size=pairs_per_identity))
        second.extend(rng.choice(others, size=pairs_per_identity))
        same.extend([False] * pairs_per_identity)
    return np.array(first), np.array(second), np.array(same)


def train_head(encodings: np.ndarray, labels: np.ndarray, form: str, seed: int = 0, pairs_per_identity: int = 50,
               epochs: int = 20, learning_rate: float = 0.05, batch_size: int = 256, groups: np.ndarray | None = None,
               progress: bool = False):
    """Train a siamese head on balanced pairs of ``encodings`` (binary cross-entropy, Adam).

    Reproducible: ``keras.utils.set_random_seed(seed)``, pairs drawn and shuffled (anew each epoch) with
    ``numpy.random.default_rng(seed)``, zero initial weights.

    Args:
        encodings: ``(N, 128)`` encodings of the training photos (BFW; never the evaluation set).
        labels: ``(N,)`` identity of each photo.
        form: ``"abs"`` or ``"chi2"``.
        seed: random seed.
        pairs_per_identity: same-person pairs per identity (and as many different-person pairs).
        epochs: passes over the pairs.
        learning_rate, batch_size: of Adam; the learning rate decays along a cosine to 1 % of it.
        groups: ``(N,)`` demographic group of each photo: different-person pairs are then drawn within a
            group (see :func:`sample_pairs`), or None (from anyone).
        progress: show a progress bar over the epochs (on stderr).

    Returns:
        The trained Keras model of :func:`build_head`; ``model.history_rows`` holds each epoch's
        loss and accuracy at ``p >= 0.5`` on the training pairs.
    """
    import keras
    from tqdm import tqdm

    encodings = np.asarray(encodings, np.float32)
    if encodings.ndim != 2 or encodings.shape[1] != ENCODING_SIZE or len(encodings) != len(labels):
        raise InvalidArgument(f"expected (N, {ENCODING_SIZE}) encodings and N labels, "
                              f"got {encodings.shape} and {len(labels)}")
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    first, second, same = sample_pairs(labels, pairs_per_identity, rng, groups)
    features = pair_features(encodings[first], encodings[second], form)
    model = build_head(form, features.mean(0), features.std(0) + 1e-12)
    steps = epochs * -(-len(same) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy",
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    rows = []
    for epoch in tqdm(range(epochs), desc=f"training head_{form}", unit="epoch", disable=not progress):
        order = rng.permutation(len(same))
        history = model.fit([encodings[first[order]], encodings[second[order]]], same[order].astype(np.float32),
                            batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        rows.append({"epoch": epoch + 1, **{k: float(v[-1]) for k, v in history.history.items()}})
    model.history_rows = rows
    model.training_pairs = int(len(same))
    return model


@dataclass(frozen=True)
class SiameseHead:
    """A trained head in plain numbers: ``p(same) = sigmoid(weights . phi(a, b) + bias)``.

    Attributes:
        form: ``"abs"`` or ``"chi2"`` (the feature ``phi``).
        weights: ``(128,)`` float32 ``w_k`` (negative: a difference in dimension ``k`` speaks against "same").
        bias: ``b``.
        fingerprint: :func:`facerec.models.weights.weights_fingerprint` of the encoder it was trained for.
        info: training facts (seed, pairs, epochs, final loss and accuracy, data).
    """

    form: str
    weights: np.ndarray
    bias: float
    fingerprint: str
    info: dict = field(default_factory=dict)

    @classmethod
    def from_model(cls, model, fingerprint: str, info: dict | None = None) -> SiameseHead:
        """The numbers of a Keras head from :func:`build_head` / :func:`train_head`."""
        form = _form_of(model)
        standardize = model.get_layer("standardize")
        mean = np.asarray(standardize.mean, np.float64).reshape(-1)
        std = np.maximum(np.sqrt(np.asarray(standardize.variance, np.float64).reshape(-1)), 1e-7)  # as Keras does
        kernel, bias = (np.asarray(w, np.float64) for w in model.get_layer("logistic").get_weights())
        weights = kernel[:, 0] / std
        facts = {"form": form, "training_pairs": getattr(model, "training_pairs", None),
                 "history": [dict(row) for row in getattr(model, "history_rows", [])], **(info or {})}
        return cls(form, weights.astype(np.float32), float(bias[0] - weights @ mean), fingerprint, facts)

    def logits(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(N,)`` float64 ``z = w . phi + b`` of encoding pairs (shapes as in :func:`pair_features`)."""
        return pair_features(a, b, self.form) @ self.weights.astype(np.float64) + self.bias

    def probability(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(N,)`` float64 p(same person), for balanced priors; accept when ``>= 0.5``."""
        return _sigmoid(self.logits(a, b))

    def dissimilarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(N,)`` float64 ``1 - p(same)``, computed as ``sigmoid(-z)``: smaller = more alike."""
        return _sigmoid(-self.logits(a, b))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def _form_of(model) -> str:
    form = model.name.removeprefix("siamese_head_")
    if form not in FORMS:
        raise InvalidArgument(f"{model.name!r} is not a siamese head from facerec.head.build_head")
    return form


def predict_proba(head, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """p(same person) of encoding pairs, from a :class:`SiameseHead` or a Keras head.

    Args:
        head: a :class:`SiameseHead` (float64 maths) or a model of :func:`build_head` (float32).
        a, b: ``(N, 128)`` or ``(128,)`` encodings (one broadcasts against many).

    Returns:
        ``(N,)`` float64 probabilities.
    """
    if isinstance(head, SiameseHead):
        return head.probability(a, b)
    a, b = (np.atleast_2d(np.asarray(x, np.float32)) for x in (a, b))
    a, b = np.broadcast_arrays(a, b)
    return np.asarray(head.predict_on_batch([a, b]), np.float64)[:, 0]


# -- files -----------------------------------------------------------------------------


def head_path(form: str, weights_dir: str | os.PathLike | None = None) -> Path:
    """``<weights_dir>/head_<form>.npz`` (default weights folder: :func:`facerec.encoder.default_weights_dir`)."""
    from facerec.encoder import default_weights_dir

    return Path(weights_dir or default_weights_dir()) / f"head_{_check_form(form)}.npz"


def save_head(head: SiameseHead, path: str | os.PathLike) -> Path:
    """Write ``head`` as an ``.npz`` of plain arrays (form, weights, bias, fingerprint, info as JSON)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez(handle, format=np.array(FILE_FORMAT), form=np.array(head.form),
                 weights=np.asarray(head.weights, np.float32), bias=np.array(head.bias, np.float64),
                 fingerprint=np.array(head.fingerprint), info=np.array(json.dumps(head.info)))
    return path


def load_head(path: str | os.PathLike, fingerprint: str | None = None) -> SiameseHead:
    """Read a head written by :func:`save_head`.

    Args:
        path: the ``.npz`` file.
        fingerprint: the encoder's fingerprint; when given, a head trained for other weights is refused.

    Raises:
        WeightsError: the file is missing or is not a siamese head.
        ModelMismatch: the head was trained on encodings of other weights.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"siamese head {path} not found; train it with `facerec train-head --form "
                           f"{path.stem.removeprefix('head_')}` (it needs the BFW faces and the weights in use)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != FILE_FORMAT:
                raise WeightsError(f"{path} is not a siamese head ({str(data['format'])!r})")
            head = SiameseHead(_check_form(str(data["form"])), data["weights"].astype(np.float32),
                               float(data["bias"]), str(data["fingerprint"]), json.loads(str(data["info"])))
    except (OSError, ValueError, KeyError) as error:
        if isinstance(error, WeightsError):
            raise
        raise WeightsError(f"{path} is not a readable siamese head ({error}); train it again") from error
    if head.weights.shape != (ENCODING_SIZE,):
        raise WeightsError(f"{path}: expected {ENCODING_SIZE} weights, found shape {head.weights.shape}")
    if fingerprint is not None and head.fingerprint != fingerprint:
        raise ModelMismatch(f"siamese head {path} was trained for other encoder weights (fingerprint "
                            f"{head.fingerprint[:12]}) than the ones loaded now ({fingerprint[:12]}); train it "
                            f"again with `facerec train-head --form {head.form}`")
    return head


def encoding_mode(encoder) -> str:
    """``"flip-averaged"`` (each face with its mirror image, FaceEncoder's default) or ``"plain"``."""
    return "flip-averaged" if getattr(encoder, "flip_average", True) else "plain"


def load_method_head(method: str, encoder) -> SiameseHead:
    """The head of an evaluation/API method (``"head-abs"``, ``"head-chi2"``) for ``encoder``'s weights.

    Raises:
        WeightsError: no head file beside the weights.
        ModelMismatch: the head was trained for other weights, or for the other encoding mode
            (flip-averaged or plain: see :class:`facerec.encoder.FaceEncoder`).
    """
    if method not in METHODS:
        raise InvalidArgument(f"unknown method {method!r}; choose l2 or one of {', '.join(METHODS)}")
    if getattr(encoder, "name", "nn4") != "nn4":
        raise InvalidArgument(f"the siamese heads were trained on nn4 encodings, and this uses the {encoder.name} "
                              "encoder; use --method l2 (the default)")
    path = head_path(METHODS[method], encoder.weights_dir)
    head = load_head(path, encoder.fingerprint)
    trained_on = head.info.get("encoding", "flip-averaged")
    if trained_on != encoding_mode(encoder):
        raise ModelMismatch(f"siamese head {path} was trained on {trained_on} encodings, but the encoder makes "
                            f"{encoding_mode(encoder)} ones; use an encoder with flip_average="
                            f"{trained_on == 'flip-averaged'}")
    return head


# -- training data ---------------------------------------------------------------------------


def encodings_cache_path(fingerprint: str, datasets_dir: str | os.PathLike = DATASETS_DIR,
                         mode: str = "flip-averaged") -> Path:
    """``datasets/bfw_encodings_<fingerprint[:12]>.h5`` (``..._plain.h5`` for plain encodings)."""
    return Path(datasets_dir) / f"bfw_encodings_{fingerprint[:12]}{'' if mode == 'flip-averaged' else '_plain'}.h5"


def bfw_encodings(encoder=None, datasets_dir: str | os.PathLike = DATASETS_DIR, progress: bool = True,
                  chunk: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encodings of every BFW face, their identity labels and demographic groups, cached per weights.

    The first call encodes ``datasets/bfw_aligned.h5`` (20,000 faces, about a minute on a free
    2-core CPU) and writes :func:`encodings_cache_path`; later calls read it.

    Returns:
        ``(encodings (20000, 128) float32, labels (20000,) int32, groups (20000,) str)`` in the aligned
        set's order.
    """
    import h5py
    from tqdm import tqdm

    from facerec import datasets
    from facerec.encoder import get_encoder

    encoder = encoder or get_encoder()
    path = encodings_cache_path(encoder.fingerprint, datasets_dir, encoding_mode(encoder))
    if path.is_file():
        with h5py.File(path, "r") as h5:
            if (h5.attrs.get("fingerprint"), h5.attrs.get("encoding")) == (encoder.fingerprint, encoding_mode(encoder)):
                return h5["encodings"][:], h5["labels"][:], np.array(h5["groups"].asstr()[:])
    bfw = datasets.load("bfw", Path(datasets_dir))
    encodings = np.concatenate([encoder.encode(bfw.images[i:i + chunk]) for i in
                                tqdm(range(0, len(bfw.images), chunk), desc="encoding BFW", unit="chunk",
                                     disable=not progress)])
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with h5py.File(tmp, "w") as h5:
        h5.attrs["fingerprint"] = encoder.fingerprint
        h5.attrs["encoding"] = encoding_mode(encoder)
        h5.create_dataset("encodings", data=encodings)
        h5.create_dataset("labels", data=bfw.labels)
        h5.create_dataset("groups", data=np.array(bfw.groups, dtype=h5py.string_dtype()))
    os.replace(tmp, path)
    return encodings, bfw.labels, np.array(bfw.groups)


def train_bfw_head(form: str, encoder=None, out_dir: str | os.PathLike | None = None, seed: int = 0,
                   pairs_per_identity: int = 50, epochs: int = 20, progress: bool = True) -> tuple[SiameseHead, Path]:
    """``facerec train-head``: train a head on every BFW identity's encodings and save it.

    Args:
        form: ``"abs"`` or ``"chi2"``.
        encoder: the :class:`facerec.encoder.FaceEncoder` whose encodings it reads (default: the shared one).
        out_dir: folder of ``head_<form>.npz`` (default: the encoder's weights folder, where
            :func:`load_method_head` looks).
        seed, pairs_per_identity, epochs: as in :func:`train_head`.

    Returns:
        ``(head, path)``.
    """
    from facerec.encoder import get_encoder

    encoder = encoder or get_encoder()
    encodings, labels, groups = bfw_encodings(encoder, progress=progress)
    model = train_head(encodings, labels, form, seed=seed, pairs_per_identity=pairs_per_identity, epochs=epochs,
                       groups=groups, progress=progress)
    info = {"data": f"BFW, {len(np.unique(labels))} identities, {len(labels)} faces; different-person pairs "
                    "within a demographic group", "seed": seed,
            "pairs_per_identity": pairs_per_identity, "epochs": epochs, "chi2_eps": CHI2_EPS,
            "encoding": encoding_mode(encoder),
            "decision": f"p(same) >= {DECISION}; calibrated for balanced priors"}
    head = SiameseHead.from_model(model, encoder.fingerprint, info)
    path = save_head(head, Path(out_dir or encoder.weights_dir) / f"head_{form}.npz")
    return head, path


# -- evaluation ---------------------------------------------------------------------------


def head_for_evaluation(method: str, models: list[str], weights_dir: str | os.PathLike | None = None) -> SiameseHead:
    """The head ``facerec evaluate lfw --method head-abs|head-chi2`` scores pairs with (loaded before encoding)."""
    from facerec.encoder import get_encoder

    if any(model != "facerec" for model in models):
        raise InvalidArgument(f"--method {method} reads facerec encodings; evaluate --model dlib with --method l2")
    return load_method_head(method, get_encoder(weights_dir))


def head_pair_scores(head: SiameseHead, encodings: np.ndarray, index: dict[str, int], pairs: list) -> np.ndarray:
    """``(len(pairs),)`` float64 ``1 - p(same)`` of each LFW pair (smaller = more alike, for the protocol)."""
    missing = [p for pair in pairs for p in (pair.first, pair.second) if p not in index]
    if missing:
        raise InvalidArgument(f"{len(missing)} pair images are not in LFW, e.g. {missing[0]}")
    first = encodings[[index[pair.first] for pair in pairs]]
    second = encodings[[index[pair.second] for pair in pairs]]
    return head.dissimilarity(first, second)
