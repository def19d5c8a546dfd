"""CSV weights: exact round trip, cache, and clear errors for broken folders."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from facerec.exceptions import WeightsError
from facerec.models.nn4_small2 import build_nn4_small2
from facerec.models.weights import (
    format_floats,
    load_csv_weights,
    parse_csv,
    save_csv_weights,
    weights_fingerprint,
)


@pytest.fixture(scope="module")
def random_model():
    import keras

    keras.utils.set_random_seed(7)
    model = build_nn4_small2()
    # make batch-norm statistics non-trivial too
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([np.random.default_rng(1).normal(size=w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    return model


@pytest.fixture(scope="module")
def saved_dir(random_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    aux = {"inception_5a_3x3_conv2_m": np.arange(96, dtype=np.float32),
           "inception_5a_3x3_conv2_v": np.ones(96, np.float32)}
    save_csv_weights(random_model, folder, aux_stats=aux)
    return folder


def test_writer_produces_the_226_file_layout(saved_dir):
    assert len(list(saved_dir.glob("*.csv"))) == 226


def test_round_trip_is_bit_exact(random_model, saved_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEREC_CACHE", str(tmp_path))
    loaded = build_nn4_small2()
    load_csv_weights(loaded, saved_dir)
    for original, restored in zip(random_model.get_weights(), loaded.get_weights(), strict=True):
        assert original.dtype == restored.dtype == np.float32
        assert np.array_equal(original.view(np.uint32), restored.view(np.uint32))
    assert weights_fingerprint(loaded) == weights_fingerprint(random_model)


def test_format_floats_round_trips_awkward_values():
    values = np.array([0.1, -0.0, 1e-38, 3.4028235e38, 1.17549435e-38, 2.5e-45, 16777217.0, np.pi], np.float32)
    parsed = np.array(format_floats(values).split(","), np.float64).astype(np.float32)
    assert np.array_equal(parsed.view(np.uint32), values.view(np.uint32))


def test_warm_load_uses_the_cache_and_a_changed_csv_invalidates_it(saved_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEREC_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "w"
    shutil.copytree(saved_dir, folder)
    model = build_nn4_small2()
    load_csv_weights(model, folder)
    assert list((tmp_path / "cache").glob("weights-*.npz")), "first load should write the binary cache"
    # rewrite one CSV with other values: the next load must see them, not the stale cache
    bias = np.full(64, 0.5, np.float32)
    time.sleep(0.01)
    (folder / "conv1_b.csv").write_text(format_floats(bias))
    load_csv_weights(model, folder)
    assert np.array_equal(model.get_layer("conv1").get_weights()[1], bias)


def test_missing_file_names_the_file_and_shape(saved_dir, tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(saved_dir, folder)
    (folder / "inception_4e_3x3_conv2_w.csv").unlink()
    with pytest.raises(WeightsError, match=r"inception_4e_3x3_conv2_w\.csv.*\[256, 160, 3, 3\]"):
        load_csv_weights(build_nn4_small2(), folder)


def test_allow_missing_reports_what_was_missing(saved_dir, tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(saved_dir, folder)
    (folder / "conv2_w.csv").unlink()
    assert load_csv_weights(build_nn4_small2(), folder, allow_missing=True) == ["conv2_w"]


def test_wrong_count_is_a_clear_error(tmp_path):
    path = tmp_path / "bn1_m.csv"
    path.write_text("1.0,2.0,3.0")
    with pytest.raises(WeightsError, match=r"bn1_m\.csv has 3 values, expected 64 \(shape \[64\]\)"):
        parse_csv(path, (64,))


def test_nan_is_a_clear_error(tmp_path):
    path = tmp_path / "conv1_b.csv"
    path.write_text(",".join(["0.5"] * 63 + ["nan"]))
    with pytest.raises(WeightsError, match=r"conv1_b\.csv holds NaN"):
        parse_csv(path, (64,))


def test_non_numeric_is_a_clear_error(tmp_path):
    path = tmp_path / "conv1_b.csv"
    path.write_text(",".join(["0.5"] * 63 + ["abc"]))
    with pytest.raises(WeightsError, match=r"non-numeric"):
        parse_csv(path, (64,))


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_csv_weights(build_nn4_small2(), tmp_path / "nowhere")


def test_openface_assets_load_except_the_five_documented_kernels(openface_dir):
    missing = load_csv_weights(build_nn4_small2(), openface_dir, allow_missing=True)
    assert sorted(missing) == sorted([
        "inception_3c_3x3_conv2_w", "inception_4e_3x3_conv2_w", "inception_5a_1x1_conv_w",
        "inception_5a_3x3_conv2_w", "inception_5b_3x3_conv2_w"])
