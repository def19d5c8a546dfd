"""The siamese verification head (facerec.head) on synthetic encodings, and its use by verify and evaluate.

The synthetic encodings are unit vectors scattered around one centre per identity, so the right answers
are known: pairs of one identity are closer than pairs of two.
"""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pytest

from facerec import head as siamese
from facerec.evaluate import Pair, roc_auc
from facerec.exceptions import InvalidArgument, ModelMismatch, WeightsError

FINGERPRINT = "f" * 64
FAST = {"pairs_per_identity": 20, "epochs": 10}


def clustered(identities: int, photos: int, noise: float, seed: int, informative: int = 128,
              first_label: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit encodings ``(identities * photos, 128)`` around one centre per identity, and their labels.

    Only the first ``informative`` dimensions of the centres differ between identities; the noise
    (``noise`` relative to the centres' spread) is spread over all 128.
    """
    rng = np.random.default_rng(seed)
    centres = np.zeros((identities, 128))
    centres[:, :informative] = rng.normal(size=(identities, informative)) / np.sqrt(informative)
    labels = np.repeat(np.arange(identities), photos) + first_label
    x = centres[labels - first_label] + noise * rng.normal(size=(len(labels), 128)) / np.sqrt(128)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def held_out_pairs(seed: int = 9, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, same)``: balanced pairs of 40 identities that no head below was trained on."""
    x, labels = clustered(40, 8, seed=seed, first_label=1000, **kwargs)
    first, second, same = siamese.sample_pairs(labels, 20, np.random.default_rng(seed))
    return x[first], x[second], same


@pytest.fixture(scope="module")
def training_set():
    return clustered(60, 8, noise=1.5, seed=0)


@pytest.fixture(scope="module", params=siamese.FORMS)
def trained(request, training_set):
    """``(form, keras model, SiameseHead)`` trained on the clustered training set."""
    model = siamese.train_head(*training_set, request.param, seed=1, **FAST)
    return request.param, model, siamese.SiameseHead.from_model(model, FINGERPRINT, {"note": "test"})


# -- features ----------------------------------------------------------------------------------


def test_pair_features_shapes_and_formulas():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 128)), rng.normal(size=(5, 128))
    np.testing.assert_allclose(siamese.pair_features(a, b, "abs"), np.abs(a - b))
    chi2 = siamese.pair_features(a, b, "chi2")
    assert chi2.shape == (5, 128) and (chi2 >= 0).all()
    assert (chi2 <= np.abs(a) + np.abs(b) + 1e-12).all()  # bounded, whatever the signs
    positive = np.abs(a), np.abs(b)  # DeepFace's features are non-negative: there the form is theirs
    np.testing.assert_allclose(siamese.pair_features(*positive, "chi2"),
                               (positive[0] - positive[1]) ** 2 / (positive[0] + positive[1]), rtol=1e-4)
    assert siamese.pair_features(a[0], b, "abs").shape == (5, 128)  # one encoding against many
    assert np.isfinite(siamese.pair_features(np.zeros(128), np.zeros(128), "chi2")).all()


@pytest.mark.parametrize(("a", "b", "form", "message"), [
    (np.zeros((2, 127)), np.zeros((2, 127)), "abs", "shape"),
    (np.zeros(128), np.zeros(128), "cosine", "unknown head form"),
])
def test_pair_features_reject_bad_input(a, b, form, message):
    with pytest.raises(InvalidArgument, match=message):
        siamese.pair_features(a, b, form)


def test_sample_pairs_are_balanced_and_labelled_right():
    labels = np.repeat(np.arange(7), [5, 5, 5, 5, 5, 5, 1])  # the last identity has one photo
    first, second, same = siamese.sample_pairs(labels, 10, np.random.default_rng(3))
    assert len(same) == 6 * 2 * 10 and same.sum() == 60
    assert (labels[first[same]] == labels[second[same]]).all() and (first[same] != second[same]).all()
    assert (labels[first[~same]] != labels[second[~same]]).all()
    again = siamese.sample_pairs(labels, 10, np.random.default_rng(3))
    assert all(np.array_equal(x, y) for x, y in zip((first, second, same), again))


def test_sample_pairs_draw_impostors_within_the_group_when_told():
    labels = np.repeat(np.arange(8), 4)
    groups = np.where(labels < 4, "a", "b")
    groups[labels == 7] = "c"  # alone in its group: its impostors come from anyone
    first, second, same = siamese.sample_pairs(labels, 30, np.random.default_rng(0), groups)
    different = ~same & (labels[first] != 7)
    assert (groups[first[different]] == groups[second[different]]).all()
    alone = ~same & (labels[first] == 7)
    assert alone.sum() == 30 and (labels[second[alone]] != 7).all()
    _, anyone, plain_same = siamese.sample_pairs(labels, 30, np.random.default_rng(0))
    assert (groups[first[~plain_same]] != groups[anyone[~plain_same]]).any()  # without groups: across groups too


# -- the trained head --------------------------------------------------------------------------


def test_head_shapes_and_keras_matches_numpy(trained):
    form, model, head = trained
    a, b, _ = held_out_pairs(noise=1.5)
    assert model.predict_on_batch([a, b]).shape == (len(a), 1)
    assert head.weights.shape == (128,) and head.weights.dtype == np.float32
    keras_p = siamese.predict_proba(model, a, b)
    numpy_p = siamese.predict_proba(head, a, b)
    assert keras_p.shape == numpy_p.shape == (len(a),)
    np.testing.assert_allclose(keras_p, numpy_p, atol=2e-5)
    np.testing.assert_allclose(head.dissimilarity(a, b), 1 - numpy_p, atol=1e-12)
    assert siamese.predict_proba(head, a[0], b).shape == (len(b),)


def test_pair_order_does_not_change_the_score(trained):
    _, model, head = trained
    a, b, _ = held_out_pairs(noise=1.5)
    np.testing.assert_array_equal(head.probability(a, b), head.probability(b, a))
    np.testing.assert_allclose(siamese.predict_proba(model, a, b), siamese.predict_proba(model, b, a), atol=1e-6)
    assert np.ptp(head.probability(a, b)) > 0.5  # not a constant: the symmetry is the formula's


def test_head_separates_clustered_encodings_of_unseen_identities(trained):
    form, _, head = trained
    a, b, same = held_out_pairs(noise=1.5)
    assert roc_auc(head.dissimilarity(a, b), same) > 0.9, form
    accuracy = np.mean((head.probability(a, b) >= siamese.DECISION) == same)
    assert accuracy > 0.85, form
    assert (head.weights < 0).mean() > 0.9  # a difference in (nearly) any dimension speaks against "same"


@pytest.mark.parametrize("form", siamese.FORMS)
def test_head_learns_which_dimensions_matter(form):
    """Identity lives in 16 dimensions, noise in all 128: the head weights the 16 and beats the L2 distance."""
    x, labels = clustered(60, 8, noise=3.0, seed=0, informative=16)
    head = siamese.SiameseHead.from_model(siamese.train_head(x, labels, form, seed=1, **FAST), FINGERPRINT)
    a, b, same = held_out_pairs(noise=3.0, informative=16)
    l2_auc = roc_auc(np.linalg.norm(a - b, axis=1), same)
    assert roc_auc(head.dissimilarity(a, b), same) > l2_auc + 0.05
    assert head.weights[:16].mean() < 5 * head.weights[16:].mean()  # both negative: 16 weigh far more


def test_training_is_reproducible_from_its_seed(training_set):
    def weights(seed):
        model = siamese.train_head(*training_set, "abs", seed=seed, pairs_per_identity=10, epochs=3)
        return [w.copy() for w in model.get_weights()]

    first, again, other = weights(4), weights(4), weights(5)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other))


# -- files -------------------------------------------------------------------------------------


def test_save_and_load_give_identical_predictions(trained, tmp_path):
    form, _, head = trained
    path = siamese.save_head(head, tmp_path / f"head_{form}.npz")
    loaded = siamese.load_head(path, fingerprint=FINGERPRINT)
    assert (loaded.form, loaded.bias, loaded.fingerprint) == (head.form, head.bias, head.fingerprint)
    assert loaded.info["note"] == "test" and len(loaded.info["history"]) == FAST["epochs"]
    a, b, _ = held_out_pairs(noise=1.5)
    np.testing.assert_array_equal(loaded.probability(a, b), head.probability(a, b))
    with np.load(path, allow_pickle=False) as data:  # plain arrays only: loading needs no pickle
        assert all(data[key].dtype != object for key in data.files)


def test_a_head_for_other_weights_is_refused(trained, tmp_path):
    _, _, head = trained
    path = siamese.save_head(head, tmp_path / "head.npz")
    with pytest.raises(ModelMismatch, match="facerec train-head"):
        siamese.load_head(path, fingerprint="0" * 64)
    assert siamese.load_head(path).fingerprint == FINGERPRINT  # no fingerprint given: no check


def test_missing_or_foreign_head_files_are_weights_errors(tmp_path):
    with pytest.raises(WeightsError, match="facerec train-head --form chi2"):
        siamese.load_head(tmp_path / "head_chi2.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(128))
    with pytest.raises(WeightsError, match="not a readable siamese head"):
        siamese.load_head(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(WeightsError):
        siamese.load_head(tmp_path / "text.npz")


def test_head_pair_scores_follow_the_lfw_pairs(trained):
    _, _, head = trained
    x, _ = clustered(3, 2, noise=1.0, seed=2)
    index = {f"p{i}.jpg": i for i in range(len(x))}
    pairs = [Pair("p0.jpg", "p1.jpg", True, 0), Pair("p0.jpg", "p5.jpg", False, 0)]
    scores = siamese.head_pair_scores(head, x, index, pairs)
    np.testing.assert_allclose(scores, 1 - head.probability(x[[0, 0]], x[[1, 5]]), atol=1e-12)
    with pytest.raises(InvalidArgument, match="not in LFW"):
        siamese.head_pair_scores(head, x, index, [Pair("p0.jpg", "nobody.jpg", False, 0)])


def test_evaluate_accepts_only_the_three_methods():
    from facerec import evaluate

    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    assert parser.parse_args(["lfw"]).method == "l2"
    assert parser.parse_args(["lfw", "--method", "head-chi2"]).method == "head-chi2"
    with pytest.raises(SystemExit):
        parser.parse_args(["lfw", "--method", "cosine"])
    with pytest.raises(InvalidArgument, match="--model dlib"):
        siamese.head_for_evaluation("head-abs", ["facerec", "dlib"])


# -- with the encoder: verify(..., method=) and facerec evaluate --------------------------------


@pytest.fixture(scope="module")
def encoder_with_heads(tmp_path_factory, training_set):
    """The development (or trained) encoder, seen through a weights folder that also holds heads for it."""
    from helpers_issue4 import weights_or_skip

    from facerec.encoder import get_encoder

    source = weights_or_skip()
    folder = tmp_path_factory.mktemp("weights")
    for path in source.iterdir():
        if not path.name.startswith("head_"):  # the heads below are written here, never through to the source
            (folder / path.name).symlink_to(path.resolve())
    encoder = get_encoder(folder)
    for form in siamese.FORMS:
        model = siamese.train_head(*training_set, form, seed=1, **FAST)
        siamese.save_head(siamese.SiameseHead.from_model(model, encoder.fingerprint), folder / f"head_{form}.npz")
    return encoder


@pytest.fixture(scope="module")
def residents_db(tmp_path_factory, encoder_with_heads):
    from helpers_issue4 import photo

    from facerec.database import FaceDatabase

    path = tmp_path_factory.mktemp("db") / "residents.sqlite"
    with FaceDatabase(path) as db:
        for name in ("younes", "kian"):
            db.enroll(name, [photo(name)], encoder=encoder_with_heads)
    return path


@pytest.mark.parametrize("method", list(siamese.METHODS))
def test_verify_with_a_head_returns_its_probability(method, encoder_with_heads, residents_db):
    from helpers_issue4 import photo

    import facerec
    from facerec.database import FaceDatabase

    result = facerec.verify(photo("camera_0"), "younes", residents_db, encoder=encoder_with_heads, method=method)
    head = siamese.load_method_head(method, encoder_with_heads)
    with FaceDatabase(residents_db, create=False) as db:
        known, _ = db.encodings("younes")
    query, _ = facerec.encode_faces(photo("camera_0"), encoder=encoder_with_heads)
    expected = float(head.probability(known, query[0]).max())
    assert result.probability == pytest.approx(expected, abs=1e-6)
    assert result.match == (result.probability >= 0.5) and result.threshold == 0.5 and result.method == method
    data = result.to_json()
    assert data["probability"] == pytest.approx(expected, abs=1e-6) and data["method"] == method
    strict = facerec.verify(photo("camera_0"), "younes", residents_db, threshold=0.999999, encoder=encoder_with_heads,
                            method=method)
    assert strict.match == (strict.probability >= 0.999999)


def test_verify_l2_has_no_probability_and_bad_methods_fail(encoder_with_heads, residents_db):
    from helpers_issue4 import photo

    import facerec

    result = facerec.verify(photo("younes"), "younes", residents_db, encoder=encoder_with_heads)
    assert result.probability is None and result.method == "l2" and result.to_json()["probability"] is None
    with pytest.raises(InvalidArgument, match="unknown method"):
        facerec.verify(photo("younes"), "younes", residents_db, encoder=encoder_with_heads, method="cosine")
    with pytest.raises(InvalidArgument, match="probability"):
        facerec.verify(photo("younes"), "younes", residents_db, threshold=1.5, encoder=encoder_with_heads,
                       method="head-abs")


def test_verify_refuses_a_head_trained_for_other_weights(encoder_with_heads, residents_db, tmp_path):
    from helpers_issue4 import photo

    import facerec

    folder = encoder_with_heads.weights_dir
    saved = tmp_path / "head_abs.npz"
    shutil.copy(folder / "head_abs.npz", saved)
    head = siamese.load_head(saved)
    siamese.save_head(siamese.SiameseHead(head.form, head.weights, head.bias, "0" * 64), folder / "head_abs.npz")
    try:
        with pytest.raises(ModelMismatch):
            facerec.verify(photo("younes"), "younes", residents_db, encoder=encoder_with_heads, method="head-abs")
    finally:
        shutil.copy(saved, folder / "head_abs.npz")


def test_a_head_is_refused_for_the_other_encoding_mode(encoder_with_heads):
    from facerec.encoder import get_encoder

    plain = get_encoder(encoder_with_heads.weights_dir, flip_average=False)
    assert plain.fingerprint == encoder_with_heads.fingerprint  # same weights, other encodings
    with pytest.raises(ModelMismatch, match="flip-averaged encodings"):
        siamese.load_method_head("head-abs", plain)
    assert siamese.load_method_head("head-abs", encoder_with_heads).form == "abs"


def test_evaluate_lfw_with_a_head_on_a_small_pairs_file(encoder_with_heads, tmp_path, capsys):
    """The protocol's JSON for head-abs on 8 LFW pairs: the same fields as l2, scores = 1 - p."""
    from facerec import datasets, evaluate
    from facerec.paths import assets_dir

    if not (datasets.h5_path("lfw").exists() or (assets_dir() / "lfw").is_dir()):
        pytest.skip(f"needs LFW (datasets/lfw_aligned.h5 or {assets_dir()}/lfw)")
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("2\t2\nAaron_Peirsol\t1\t2\nAaron_Peirsol\t3\t4\nAaron_Peirsol\t1\tAbdullah\t1\n"
                          "Aaron_Peirsol\t2\tAbdullah\t2\nAbdullah\t1\t3\nAbdullah\t2\t4\n"
                          "Abdullah\t3\tAaron_Peirsol\t3\nAbdullah\t4\tAaron_Peirsol\t4\n")
    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    outputs = {}
    for method in ("l2", "head-abs"):
        args = parser.parse_args(["lfw", "--pairs", str(pairs_file), "--method", method, "--json",
                                  "--weights", str(encoder_with_heads.weights_dir), "--plot", str(tmp_path / "r.png")])
        evaluate.run(args)
        outputs[method] = json.loads(capsys.readouterr().out)
    assert outputs["l2"].keys() == outputs["head-abs"].keys()
    assert outputs["head-abs"]["method"] == "head-abs" and outputs["head-abs"]["n_pairs"] == 8
    assert 0 <= outputs["head-abs"]["threshold"] <= 1
    pairs = evaluate.read_pairs(pairs_file)
    paths = sorted({p for pair in pairs for p in (pair.first, pair.second)})
    encodings = evaluate.encode_lfw("facerec", paths, encoder_with_heads.weights_dir, progress=False)
    head = siamese.load_method_head("head-abs", encoder_with_heads)
    scores = siamese.head_pair_scores(head, encodings, {p: i for i, p in enumerate(paths)}, pairs)
    assert outputs["head-abs"]["auc"] == pytest.approx(roc_auc(scores, np.array([p.same for p in pairs])))


# -- the notebook's optional section (course/siamese.py) -----------------------------------------


def test_course_sample_rows_take_each_groups_first_people_and_photos():
    from course import bfw_rows as section

    groups = np.repeat(np.array(list("ABCDEFGH")), 50)  # 8 groups x 5 people x 10 photos, sorted by group
    labels = np.repeat(np.arange(40), 10)
    rows = section.sample_rows(groups, labels, identities=16, photos=3)
    assert len(rows) == 16 * 3 and (np.diff(rows) > 0).all()
    assert sorted(np.unique(groups[rows], return_counts=True)[1]) == [6] * 8
    assert (np.unique(labels[rows], return_counts=True)[1] == 3).all()
    assert set(labels[rows]) == {5 * g + p for g in range(8) for p in range(2)}  # each group's first two people
    assert set(rows % 10) == {0, 1, 2}  # their first three photos


def test_course_read_rows_equals_fancy_indexing(tmp_path):
    import h5py

    from course import bfw_rows as section

    data = np.arange(1000 * 3).reshape(1000, 3)
    rows = np.sort(np.random.default_rng(0).choice(1000, 120, replace=False))
    with h5py.File(tmp_path / "x.h5", "w") as h5:
        h5.create_dataset("x", data=data, chunks=(64, 3))
        np.testing.assert_array_equal(section.read_rows(h5["x"], rows), data[rows])


def test_course_figures_show_weights_and_aucs(trained):
    import matplotlib

    matplotlib.use("Agg")
    from course import siamese as section

    form, _, head = trained
    fig = section.plot_weights({form: head, "other": head})
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 128
    a, b, same = held_out_pairs(noise=1.5)
    scores = {"L2": np.linalg.norm(a - b, axis=1), "head": head.dissimilarity(a, b)}
    fig = section.plot_roc(scores, same)
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert legend == [f"{name} (AUC {roc_auc(score, same):.4f})" for name, score in scores.items()]


# -- the BFW encodings cache and `facerec train-head` -----------------------------------------------


class CountingEncoder:
    """Stands in for FaceEncoder: encodes a face as its mean colour, padded; counts the faces it saw."""

    def __init__(self, fingerprint: str):
        self.fingerprint, self.seen = fingerprint, 0

    def encode(self, faces: np.ndarray) -> np.ndarray:
        self.seen += len(faces)
        out = np.zeros((len(faces), 128), np.float32)
        out[:, :3] = faces.reshape(len(faces), -1, 3).mean(1)
        return out


def test_bfw_encodings_are_cached_per_weights(tmp_path):
    import h5py

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 96, 96, 3), dtype=np.uint8)
    strings = {"identities": [f"p{i}" for i in range(5)], "paths": [f"g/p{i // 2}/{i}.jpg" for i in range(10)],
               "groups": ["g"] * 10}
    with h5py.File(tmp_path / "bfw_aligned.h5", "w") as h5:  # a 10-face BFW in the layout of facerec.datasets
        h5["images"], h5["labels"], h5["detected"] = images, np.repeat(np.arange(5), 2).astype(np.int32), [True] * 10
        for key, values in strings.items():
            h5.create_dataset(key, data=np.array(values, dtype=h5py.string_dtype()))
    encoder = CountingEncoder("a" * 64)
    encodings, labels, groups = siamese.bfw_encodings(encoder, tmp_path, progress=False, chunk=4)
    assert encoder.seen == 10 and encodings.shape == (10, 128) and list(labels) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert list(groups) == ["g"] * 10
    np.testing.assert_allclose(encodings[:, :3], images.reshape(10, -1, 3).mean(1), rtol=1e-5)
    assert siamese.encodings_cache_path("a" * 64, tmp_path).is_file()
    again, _, cached_groups = siamese.bfw_encodings(encoder, tmp_path, progress=False)
    assert encoder.seen == 10 and np.array_equal(again, encodings)  # read from the cache
    assert list(cached_groups) == ["g"] * 10
    other = CountingEncoder("b" * 64)
    siamese.bfw_encodings(other, tmp_path, progress=False)
    assert other.seen == 10  # other weights: encoded anew, into their own file
    assert siamese.encodings_cache_path("b" * 64, tmp_path) != siamese.encodings_cache_path("a" * 64, tmp_path)


def test_train_head_command_writes_loadable_heads(encoder_with_heads, tmp_path, monkeypatch, capsys):
    from facerec import cli

    x, labels = clustered(20, 5, noise=1.0, seed=3)
    monkeypatch.setattr(siamese, "bfw_encodings", lambda encoder, progress=True: (x, labels, labels % 2))
    code = cli.main(["--weights", str(encoder_with_heads.weights_dir), "train-head", "--form", "chi2", "--out",
                     str(tmp_path), "--epochs", "2", "--pairs-per-identity", "5", "--json"])
    assert code == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["form"] == "chi2" and row["training_pairs"] == 20 * 2 * 5
    assert row["path"] == str(tmp_path / "head_chi2.npz")
    head = siamese.load_head(tmp_path / "head_chi2.npz", fingerprint=encoder_with_heads.fingerprint)
    assert head.info["epochs"] == 2 and len(head.info["history"]) == 2


# -- the shipped heads (weights/head_abs.npz, head_chi2.npz) with the shipped weights --------------------


@pytest.fixture(scope="module")
def shipped_encoder():
    from helpers_issue4 import trained_weights_or_skip

    from facerec.encoder import get_encoder

    return get_encoder(trained_weights_or_skip())


@pytest.mark.parametrize("method", list(siamese.METHODS))
def test_shipped_heads_belong_to_the_shipped_weights(method, shipped_encoder):
    """Fails when weights/ changes without `facerec train-head` being run again."""
    head = siamese.load_method_head(method, shipped_encoder)  # raises ModelMismatch if stale
    assert head.info["encoding"] == "flip-averaged" and head.info["training_pairs"] == 800 * 2 * 50
    a = np.random.default_rng(0).normal(size=(3, 128))
    assert (head.probability(a, a) > 0.5).all()  # identical encodings are the same person


@pytest.mark.slow
@pytest.mark.parametrize("method", list(siamese.METHODS))
def test_shipped_heads_separate_lfw_view1_pairs(method, shipped_encoder):
    """LFW View 1's 1,000 development-test pairs (not used to train the heads, which saw BFW only)."""
    from facerec.evaluate import encode_lfw, pair_distances, read_pairs
    from facerec.paths import assets_dir

    pairs_file = assets_dir() / "lfw" / "pairsDevTest.txt"
    if not pairs_file.is_file():
        pytest.skip(f"needs {pairs_file}")
    pairs = read_pairs(pairs_file)
    paths = sorted({p for pair in pairs for p in (pair.first, pair.second)})
    index = {p: i for i, p in enumerate(paths)}
    encodings = encode_lfw("facerec", paths, shipped_encoder.weights_dir, progress=False)
    same = np.array([pair.same for pair in pairs])
    head_auc = roc_auc(siamese.head_pair_scores(siamese.load_method_head(method, shipped_encoder), encodings, index,
                                                pairs), same)
    assert head_auc > 0.95
    assert head_auc > roc_auc(pair_distances(encodings, index, pairs), same) - 0.02  # close to the distance
