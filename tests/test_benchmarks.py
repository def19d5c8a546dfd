"""benchmarks/run.py: the quick run works and reports every number (never how fast: no timing thresholds).

Also checks what the numbers rest on: the course loop and the exact search find the
same person, the loop's extrapolation, the report's results block, and that the
encoder's faster inference network (issue 5) gives the network's encodings.
"""

from __future__ import annotations

import importlib
import json
import math
import operator
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facerec.encoder import default_weights_dir
from facerec.paths import assets_dir

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
HEADLINE = ("encode_speedup_vs_dlib", "facerec_faces_per_s", "facerec_latency_ms", "encode_speedup_vs_dlib_flip",
            "facerec_flip_faces_per_s", "facerec_flip_latency_ms", "encode_speedup_vs_dlib_bf16",
            "facerec_bf16_faces_per_s", "facerec_bf16_latency_ms", "dlib_faces_per_s", "dlib_latency_ms",
            "identify_100k_ms", "weights_load_cold_s", "weights_load_warm_s", "notebook_s",
            "cli_identify_s", "cli_verify_s", "cli_dlib_script_s", "float32_ceiling_faces_per_s",
            "encode_speedup_vs_dlib_fast", "facerec_fast_faces_per_s", "facerec_fast_latency_ms",
            "facerec_tf_faces_per_s", "facerec_tf_latency_ms", "facerec_ort_faces_per_s", "facerec_ort_latency_ms",
            "facerec_vs_float32_ceiling")
COMPARE = {">=": operator.ge, "<=": operator.le, "<": operator.lt}
FULL_ONLY = ("identify_1m_ms", "identify_1m_faiss_ms")  # galleries of 1,000,000 are left out of --quick


@pytest.fixture(scope="module")
def bench():
    """The runner's modules, imported from benchmarks/ (a folder of scripts, not a package)."""
    saved = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield {name: importlib.import_module(name) for name in ("run", "bench_identify", "bench_common")}
    finally:
        sys.path[:] = saved
        for name in ("run", "bench_identify", "bench_common", "bench_encode", "bench_startup"):
            sys.modules.pop(name, None)


def _needs_data() -> None:
    weights = default_weights_dir()
    if not (weights / "model.json").is_file():
        pytest.skip(f"no weights with a model.json in {weights}; set FACEREC_WEIGHTS (e.g. runs/dev_weights)")
    for needed in ("lfw", "happy-house/images"):
        if not (assets_dir() / needed).is_dir():
            pytest.skip(f"{assets_dir() / needed} not found; set FACEREC_ASSETS to the shared assets")


@pytest.fixture(scope="module")
def quick_report() -> dict:
    """One ``run.py --quick --json`` in a subprocess (about 1.5 minutes on 2 cores)."""
    _needs_data()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def test_quick_run_reports_every_headline_number(quick_report):
    assert quick_report["quick"] is True
    for key in HEADLINE:
        assert _positive(quick_report[key]), f"{key} = {quick_report.get(key)!r}"
    for key in FULL_ONLY:
        assert key in quick_report and quick_report[key] is None
    assert quick_report["runtime"] == "openvino"
    assert 0.0 < quick_report["bf16_encoding_shift_median"] < 0.05  # rounded, yet far below the threshold
    assert 0.0 < quick_report["fast_encoding_shift_median"] < 0.15  # int8
    assert quick_report["encode"]["tf_difference_max"] < 1e-5  # the same encodings as TensorFlow's
    assert _positive(quick_report["encode"]["callwise_latency_ms"])
    ceiling = quick_report["encode"]["float32_ceiling"]
    assert ceiling["network_gflop_per_face"] == pytest.approx(0.4002, abs=1e-4)  # nn4.small2 at 96x96
    assert ceiling["ceiling_faces_per_s"] == pytest.approx(ceiling["conv_gflop_per_s"] / 0.4002, rel=1e-3)
    assert set(ceiling["conv_gflop_per_s_by_runtime"]) == {"tensorflow", "openvino"}
    for name in ("facerec", "facerec_flip", "facerec_fast", "facerec_bf16", "facerec_tf", "facerec_ort"):
        speedup = quick_report["encode"][f"{name}_speedup_batch"]
        assert speedup == pytest.approx(quick_report[f"{name}_faces_per_s"] / quick_report["dlib_faces_per_s"])
    assert quick_report["encode_speedup_vs_dlib"] == quick_report["encode"]["facerec_speedup_batch"]


def test_quick_run_reports_each_section(quick_report):
    encode = quick_report["encode"]
    assert encode["faces"] == encode["batch"] == 64
    for kind in ("lfw", "happy_house", "canvas"):
        row = quick_report["end_to_end"][kind]
        assert row["photos"] >= 1
        for pipeline in ("facerec", "facerec_dlib", "dlib", "face_recognition", "detect_align", "detect_hog",
                         "detect_cnn"):
            assert _positive(row[f"{pipeline}_ms"]), (kind, pipeline)
    for key in ("dlib_encoder_photo_ms", "nn4_encoder_photo_ms", "hog_detect_ms", "cnn_detect_ms"):
        assert _positive(quick_report[key]), key
    sizes = [row["size"] for row in quick_report["identify"]]
    assert sizes == [1_000, 100_000]
    for row in quick_report["identify"]:
        for name in ("course_loop", "exact", "faiss_flat"):
            assert _positive(row[f"{name}_ms"]) and _positive(row[f"{name}_mb"]), (row["size"], name)
        assert row["exact_mb"] >= row["size"] * 128 * 4 / 1e6  # the float32 gallery at least
    assert 0.0 <= quick_report["identify"][0]["faiss_hnsw_recall_at_1"] <= 1.0
    assert quick_report["weights"]["csv_files"] == 226
    notebook = quick_report["notebook"]
    assert notebook["errors"] == [], "the notebook raised: its timing means nothing"
    assert len(notebook["slowest_cells"]) == 3 and all(_positive(c["seconds"]) for c in notebook["slowest_cells"])
    assert sum(c["seconds"] for c in notebook["slowest_cells"]) <= notebook["seconds"]


def test_quick_run_describes_the_machine_and_checks_each_target(quick_report, bench):
    machine = quick_report["machine"]
    assert machine["cpu"] and machine["os"] and machine["cores"] >= 1 and machine["memory_gib"] > 0
    assert machine["python"].count(".") == 2 and machine["tensorflow"]
    targets = {t["key"]: t for t in quick_report["targets"]}
    assert set(targets) == {key for key, *_ in bench["run"].TARGETS}
    for key, _, op, threshold in bench["run"].TARGETS:
        value = quick_report[key]
        assert targets[key]["value"] == value and targets[key]["target"] == f"{op} {threshold}"
        met = None if value is None else bool(COMPARE[op](value, threshold))
        assert targets[key]["met"] is met, key


def test_course_loop_and_exact_search_find_the_same_person(bench):
    from facerec.search import ExactSearch

    identify = bench["bench_identify"]
    rng = np.random.default_rng(5)
    gallery = identify.unit_vectors(2_000, rng, chunk=700)
    assert np.allclose(np.linalg.norm(gallery, axis=1), 1.0, atol=1e-5)
    database = {f"p{i}": gallery[i:i + 1].copy() for i in range(len(gallery))}
    search = ExactSearch(gallery, np.arange(len(gallery)))
    for query in identify.near_queries(gallery, 20, rng):
        distance, name = identify.course_loop(query[None], database)
        distances, ids = search.search(query, 1)
        assert name == f"p{ids[0, 0]}" and distance == pytest.approx(distances[0, 0], abs=1e-5)


def test_loop_extrapolation_is_linear_from_the_largest_measured_size(bench):
    rows = [{"size": 1_000, "course_loop_ms": 2.0, "course_loop_mb": 0.7},
            {"size": 100_000, "course_loop_ms": 250.0, "course_loop_mb": 70.0},
            {"size": 1_000_000, "exact_ms": 30.0}]
    extra = bench["bench_identify"].extrapolate_loop(rows, 1_000_000)
    assert extra["ms"] == pytest.approx(2500.0) and extra["mb"] == pytest.approx(700.0)
    assert extra["from_size"] == 100_000 and extra["linear"] is True
    rows[1]["course_loop_ms"] = 600.0  # 3x the per-entry cost of the smaller gallery: not linear
    assert bench["bench_identify"].extrapolate_loop(rows, 1_000_000)["linear"] is False


def test_update_replaces_only_the_results_block(bench, tmp_path):
    run = bench["run"]
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Benchmarks\n\nintro\n\n{run.BEGIN}\nold table\n{run.END}\n\n## Notes\nkept\n")
    run.update_file(path, "new table")
    text = path.read_text()
    assert "new table" in text and "old table" not in text
    assert text.startswith("# Benchmarks\n\nintro") and text.endswith("## Notes\nkept\n")
    fresh = tmp_path / "fresh.md"
    run.update_file(fresh, "table")
    assert fresh.read_text() == f"{run.BEGIN}\ntable\n{run.END}\n"


def test_formatting_of_table_numbers(bench):
    fmt = bench["run"].fmt
    assert fmt(None) == "-" and fmt(float("nan")) == "-"
    assert fmt(1234567) == "1,234,567" and fmt(1234.5678, 2) == "1,234.57" and fmt(True) == "yes"


def test_encoder_inference_network_gives_the_networks_encodings():
    weights = default_weights_dir()
    if not any(weights.glob("*.csv")):
        pytest.skip(f"no CSV weights in {weights}; set FACEREC_WEIGHTS (e.g. runs/dev_weights)")
    import keras

    from facerec.encoder import FaceEncoder
    from facerec.models.weights import weights_fingerprint

    encoder = FaceEncoder(weights, flip_average=False, runtime="tensorflow")
    faces = np.random.default_rng(0).integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)
    expected = encoder.model.predict_on_batch(faces.astype(np.float32) / 255)
    np.testing.assert_allclose(encoder.encode(faces), expected, atol=1e-5)
    np.testing.assert_allclose(encoder.encode(faces[2]), expected[2:3], atol=1e-5)
    layers = encoder.network.inference.layers
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in layers), "batch norms not folded"
    assert len(layers) == len(encoder.model.layers)
    assert encoder.fingerprint == weights_fingerprint(encoder.model)


@pytest.mark.parametrize("blocks, expected", [
    (False, [("a", 0), ("b", 0), ("a", 1), ("b", 1)] * 2),
    (True, [("a", 0), ("a", 1), ("b", 0), ("b", 1)] * 2),
])
def test_interleaved_alternates_call_by_call_or_in_blocks(bench, blocks, expected):
    calls = []
    medians = bench["bench_common"].interleaved({"a": lambda i: calls.append(("a", i)),
                                                 "b": lambda i: calls.append(("b", i))},
                                                rounds=2, items=2, warmup=0, blocks=blocks)
    assert calls == expected and set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())
