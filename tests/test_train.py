"""Training pieces: the semi-hard triplet loss, the batch sampler, a tiny run."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from facerec.training.train import BatchSampler, triplet_semihard_loss


def _unit(rows):
    rows = np.asarray(rows, np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_loss_is_zero_when_classes_are_far_apart():
    emb = _unit([[1, 0], [1, 0.01], [-1, 0], [-1, 0.01]])
    loss, active = triplet_semihard_loss(tf.constant(emb), tf.constant([0, 0, 1, 1]))
    assert float(loss) == 0.0 and float(active) == 0.0


def test_loss_by_hand_with_semi_hard_negative():
    # anchor 0, positive 1 at squared distance 0.5; negatives at squared distances 0.6 and 2.0
    emb = np.array([[1.0, 0.0, 0.0], [0.75, 0.6614378, 0.0], [0.7, 0.0, 0.7141428], [-1.0, 0.0, 0.0]], np.float32)
    labels = tf.constant([0, 0, 1, 2])
    d = lambda i, j: float(np.sum((emb[i] - emb[j]) ** 2))
    loss, _ = triplet_semihard_loss(tf.constant(emb), labels, margin=0.2)
    # pairs (0,1) and (1,0): each picks the closest negative farther than its positive
    def pair_loss(a, p):
        negatives = [d(a, n) for n in (2, 3)]
        farther = [x for x in negatives if x > d(a, p)]
        chosen = min(farther) if farther else max(negatives)
        return max(d(a, p) - chosen + 0.2, 0.0)
    expected = (pair_loss(0, 1) + pair_loss(1, 0)) / 2
    assert float(loss) == pytest.approx(expected, abs=1e-5)
    assert expected > 0


def test_sampler_gives_p_identities_with_k_photos():
    labels = np.repeat(np.arange(10), 5)
    images = np.zeros((50, 96, 96, 3), np.uint8)
    x, y = BatchSampler(images, labels, 4, 3, seed=0).batch()
    assert x.shape == (12, 96, 96, 3) and x.dtype == np.float32
    assert len(np.unique(y)) == 4 and all(np.sum(y == c) == 3 for c in np.unique(y))


def test_sampler_is_reproducible_from_its_seed():
    labels = np.repeat(np.arange(10), 5)
    images = np.random.default_rng(0).integers(0, 255, (50, 96, 96, 3), dtype=np.uint8)
    a = BatchSampler(images, labels, 4, 2, seed=3).batch()
    b = BatchSampler(images, labels, 4, 2, seed=3).batch()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_similarity_correlation_loss_is_zero_for_the_teacher_itself_and_scale_free():
    from facerec.training.train import similarity_correlation_loss

    rng = np.random.default_rng(0)
    teacher = _unit(rng.normal(size=(16, 8)))
    assert float(similarity_correlation_loss(tf.constant(teacher), tf.constant(teacher))) == pytest.approx(0, abs=1e-5)
    # a student whose similarities are an affine function of the teacher's also scores ~0
    student = np.concatenate([teacher * 0.6, np.full((16, 1), 0.8)], axis=1).astype(np.float32)
    assert float(similarity_correlation_loss(tf.constant(student), tf.constant(teacher))) == pytest.approx(0, abs=1e-5)
    unrelated = _unit(rng.normal(size=(16, 8)))
    assert float(similarity_correlation_loss(tf.constant(unrelated), tf.constant(teacher))) > 0.5


def test_embedding_distillation_loss_is_one_minus_cosine_to_the_same_face():
    from facerec.training.train import embedding_distillation_loss

    rng = np.random.default_rng(1)
    teacher = _unit(rng.normal(size=(6, 8)))
    assert float(embedding_distillation_loss(tf.constant(teacher), tf.constant(teacher))) == pytest.approx(0, abs=1e-6)
    assert float(embedding_distillation_loss(tf.constant(-teacher), tf.constant(teacher))) == pytest.approx(2.0)
    # unlike the relational loss it is not rotation-free: a shuffled batch (same similarities, other faces) costs
    shuffled = teacher[[1, 2, 3, 4, 5, 0]]
    expected = np.mean(1 - np.sum(shuffled * teacher, axis=1))
    assert float(embedding_distillation_loss(tf.constant(shuffled), tf.constant(teacher))) == pytest.approx(expected)


def test_fit_projector_recovers_an_affine_map():
    from facerec.training.train import fit_projector

    rng = np.random.default_rng(2)
    student = rng.normal(size=(300, 128)).astype(np.float32)
    kernel, bias = rng.normal(size=(128, 128)), rng.normal(size=128)
    got_kernel, got_bias = fit_projector(student, (student @ kernel + bias).astype(np.float32))
    assert got_kernel.shape == (128, 128) and got_bias.shape == (128,) and got_kernel.dtype == np.float32
    np.testing.assert_allclose(got_kernel, kernel, atol=1e-3)
    np.testing.assert_allclose(got_bias, bias, atol=1e-3)


def _tiny_bfw():
    from facerec.datasets import AlignedSet

    identities, groups = [], []
    for group in ("asian_females", "white_males"):
        for person in range(30):
            identities.append(f"{group}/p{person:02d}")
            groups.append(group)
    labels = np.repeat(np.arange(len(identities)), 2)
    return AlignedSet(images=np.arange(len(labels))[:, None].astype(np.uint8), labels=labels,
                      identities=identities, paths=[f"photo{i}.jpg" for i in range(len(labels))],
                      groups=[groups[label] for label in labels], detected=np.ones(len(labels), bool))


def test_exclude_held_out_leaves_out_exactly_the_held_out_people():
    from facerec.training.bfw_split import held_out_identities
    from facerec.training.train import held_out_rows, keep_rows

    bfw = _tiny_bfw()
    held = held_out_rows(bfw)
    people = held_out_identities(bfw.identities, [bfw.groups[2 * i] for i in range(len(bfw.identities))])
    assert len(people) == 50 and len(held) == 100  # 25 of each group's 30, two photos each
    keep = np.ones(len(bfw.labels), bool)
    keep[held] = False
    keep_rows(bfw, keep)
    assert len(bfw.labels) == len(bfw.paths) == len(bfw.groups) == len(bfw.images) == len(bfw.detected) == 20
    assert not {bfw.identities[label] for label in bfw.labels} & people
    assert all(bfw.groups[i] == bfw.identities[label].split("/")[0] for i, label in enumerate(bfw.labels))
    assert [int(v) for v in bfw.images[:, 0]] == [int(p[5:-4]) for p in bfw.paths]  # rows stay aligned


def test_validator_pair_merges_both_rows():
    from facerec.training.train import ValidatorPair

    pair = ValidatorPair(lambda model: {"dev_auc": 0.9}, lambda model: {"bfw_held_out_auc": 0.8})
    assert pair(None) == {"dev_auc": 0.9, "bfw_held_out_auc": 0.8}
