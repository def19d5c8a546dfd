"""nn4 without TensorFlow: the ONNX graph, its runtimes, the keras-free weight files, the packed copy.

The runtimes must give TensorFlow's encodings within 1e-5 (float32), be bound
to the weights' fingerprint, and the practical paths must not import TensorFlow.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers_issue4 import weights_or_skip

from facerec.exceptions import InvalidArgument, WeightsError
from facerec.models import weight_files


@pytest.fixture(scope="module")
def faces(happy_house):
    """Real aligned faces (the Happy House photos, aligned as the course does) and random pixels."""
    from course.photos import find_and_align

    real = [find_and_align(path)[0] for path in sorted(happy_house.glob("*.jpg"))[:8]]
    noise = np.random.default_rng(0).integers(0, 256, (4, 96, 96, 3), dtype=np.uint8)
    return np.concatenate([np.stack(real), noise])


@pytest.fixture(scope="module")
def tensorflow_encodings(faces):
    from facerec.encoders.nn4 import FaceEncoder

    return FaceEncoder(weights_or_skip(), flip_average=False, runtime="tensorflow").encode(faces)


def test_the_weight_spec_is_the_keras_models_weights_in_order():
    from facerec.models.nn4_small2 import build_nn4_small2

    model = build_nn4_small2()
    assert [(path, shape) for path, _, shape in weight_files.weight_spec()] == \
        [(w.path, tuple(w.shape)) for w in model.weights]


def test_the_keras_free_fingerprint_equals_the_keras_models():
    from facerec.models.nn4_small2 import build_nn4_small2
    from facerec.models.weights import load_csv_weights, weights_fingerprint

    folder = weights_or_skip()
    model = build_nn4_small2()
    load_csv_weights(model, folder)
    assert weight_files.fingerprint(weight_files.read_csv_arrays(folder)) == weights_fingerprint(model)
    assert weight_files.WeightSource(folder).fingerprint == weights_fingerprint(model)


def test_the_onnx_writer_uses_the_keras_models_constants():
    from facerec.models import nn4_small2, nn4_small2_onnx

    assert nn4_small2_onnx.BN_EPSILON == nn4_small2.BN_EPSILON


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_a_runtime_gives_tensorflows_encodings_within_1e_5(runtime, faces, tensorflow_encodings):
    from facerec.encoders.nn4 import FaceEncoder

    encoder = FaceEncoder(weights_or_skip(), flip_average=False, runtime=runtime)
    assert encoder.runtime == runtime
    assert np.abs(encoder.encode(faces) - tensorflow_encodings).max() < 1e-5
    assert np.abs(encoder.encode(faces[:1]) - tensorflow_encodings[:1]).max() < 1e-5  # batch 1


def test_openvino_splits_large_batches_across_streams_without_changing_them(faces):
    from facerec.encoders.nn4 import FaceEncoder
    from facerec.runtimes.openvino_runtime import STREAM_BATCH

    encoder = FaceEncoder(weights_or_skip(), runtime="openvino")
    many = np.concatenate([faces] * (2 * STREAM_BATCH // len(faces) + 2))[:2 * STREAM_BATCH + 5]
    together = encoder.encode(many)
    alone = np.concatenate([encoder.encode(many[i:i + 7]) for i in range(0, len(many), 7)])
    assert np.abs(together - alone).max() < 1e-5


def test_the_mirror_average_matches_tensorflows(faces):
    from facerec.encoders.nn4 import FaceEncoder

    folder = weights_or_skip()
    fast = FaceEncoder(folder, runtime="openvino").encode(faces)
    slow = FaceEncoder(folder, runtime="tensorflow").encode(faces)
    assert np.abs(fast - slow).max() < 1e-5


def test_bfloat16_moves_encodings_a_little_and_onnxruntime_refuses_it(faces, tensorflow_encodings):
    from facerec.encoders.nn4 import FaceEncoder

    folder = weights_or_skip()
    fast = FaceEncoder(folder, flip_average=False, precision="bfloat16", runtime="openvino").encode(faces)
    moved = np.linalg.norm(fast - tensorflow_encodings, axis=1)
    assert 0 < moved.max() < 0.05
    with pytest.raises(InvalidArgument, match="float32 only"):
        FaceEncoder(folder, precision="bfloat16", runtime="onnxruntime")


def test_int8_is_the_quantised_model_close_to_float32_and_only_openvino_runs_it(faces, tensorflow_encodings):
    from facerec.encoders.nn4 import FaceEncoder

    folder = weights_or_skip()
    fast = FaceEncoder(folder, flip_average=False, precision="int8")
    moved = np.linalg.norm(fast.encode(faces[:8]) - tensorflow_encodings[:8], axis=1)  # the real faces
    assert 0 < np.median(moved) < 0.1 and moved.max() < 0.3  # measured: median 0.06 on LFW faces
    assert np.allclose(np.linalg.norm(fast.encode(faces), axis=1), 1, atol=1e-5)
    for runtime in ("onnxruntime", "tensorflow"):
        with pytest.raises(InvalidArgument, match="int8|float32 only"):
            FaceEncoder(folder, precision="int8", runtime=runtime)


def test_weights_without_their_int8_model_say_how_to_make_it(tmp_path, monkeypatch):
    from facerec.encoders.nn4 import FaceEncoder

    monkeypatch.setenv("FACEREC_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "weights"
    shutil.copytree(weights_or_skip(), folder, ignore=shutil.ignore_patterns("*-int8.*"))
    with pytest.raises(WeightsError, match="facerec.training.quantize"):
        FaceEncoder(folder, precision="int8")


def test_an_unknown_runtime_is_refused():
    from facerec.encoders.nn4 import FaceEncoder

    with pytest.raises(InvalidArgument, match="openvino, onnxruntime, tensorflow"):
        FaceEncoder(weights_or_skip(), runtime="tflite")


def test_the_onnx_model_is_bound_to_the_weights_fingerprint(tmp_path, monkeypatch, faces):
    """Other weights get another ONNX file (and other encodings); the same weights reuse theirs."""
    from facerec.encoders.nn4 import FaceEncoder
    from facerec.runtimes.onnx_model import file_name

    monkeypatch.setenv("FACEREC_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "weights"
    shutil.copytree(weights_or_skip(), folder)
    first = FaceEncoder(folder, flip_average=False, runtime="onnxruntime")
    assert (tmp_path / "cache" / file_name(first.fingerprint)).is_file()
    dense = folder / "dense_b.csv"
    values = np.array(dense.read_text().strip().split(","), np.float32)
    values[0] += 0.5
    dense.write_text(",".join(map(repr, values.tolist())) + "\n")
    second = FaceEncoder(folder, flip_average=False, runtime="onnxruntime")
    assert second.fingerprint != first.fingerprint
    assert (tmp_path / "cache" / file_name(second.fingerprint)).is_file()
    assert np.abs(second.encode(faces) - first.encode(faces)).max() > 1e-3


def test_packed_weights_round_trip_and_a_damaged_pack_is_refused(tmp_path):
    folder = weights_or_skip()
    out = weight_files.pack(folder, tmp_path / "nn4_small2.npz")
    arrays, card, fingerprint = weight_files.read_packed(out)
    assert fingerprint == weight_files.WeightSource(folder).fingerprint == weight_files.fingerprint(arrays)
    assert card == json.loads((folder / "model.json").read_text())
    assert json.loads((tmp_path / "nn4_small2.card.json").read_text())["fingerprint"] == fingerprint
    data = dict(np.load(out, allow_pickle=False))
    data["conv1_b"] = data["conv1_b"] + 1
    np.savez(tmp_path / "damaged.npz", **data)
    with pytest.raises(WeightsError, match="damaged"):
        weight_files.read_packed(tmp_path / "damaged.npz")
    with pytest.raises(WeightsError, match="reinstall"):
        weight_files.read_packed(tmp_path / "absent.npz")


def test_the_cached_hog_detector_finds_what_dlibs_own_finds(happy_house, tmp_path, monkeypatch):
    import dlib

    from facerec import align
    from facerec.image import load_image

    monkeypatch.setenv("FACEREC_CACHE", str(tmp_path))
    align._detector.cache_clear()
    try:
        align._detector()  # writes the cached copy
        assert align._hog_cache_path().is_file()
        align._detector.cache_clear()
        cached, original = align._detector(), dlib.get_frontal_face_detector()
        for path in sorted(happy_house.glob("*.jpg"))[:6]:
            image = load_image(path)
            a, b = cached.run(image, 1, 0.0), original.run(image, 1, 0.0)
            assert [(r.left(), r.top(), r.right(), r.bottom()) for r in a[0]] == \
                [(r.left(), r.top(), r.right(), r.bottom()) for r in b[0]]
            assert a[1] == b[1]
    finally:
        align._detector.cache_clear()
