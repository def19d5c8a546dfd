"""facerec's speed, measured side by side in one process: the numbers to beat.

Measures, interleaving the contenders so that other load on the machine hits
them alike (medians of repeats after warm-up):

* encoding aligned faces: FaceRecoModel (batch 64 throughput, batch-1 latency) in each
  runtime (OpenVINO float32, the default; OpenVINO bfloat16, the "fast" path; ONNX
  Runtime; TensorFlow) against dlib's ResNet, the model of ``face_recognition``
  (``encode_speedup_vs_dlib``), and the float32 ceiling of this CPU;
* cold start: one whole ``facerec identify`` / ``verify`` process against a script
  using dlib alone (``cli_identify_s``), and the imports;
* end to end on photos (read, detect, align, encode): LFW 160x160, the Happy
  House 96x96 crops, and LFW faces pasted into 1280x960 photos;
* identification: the course's ``who_is_it`` loop over a dict against
  :mod:`facerec.search` (exact, FAISS flat, FAISS HNSW) at 1,000 to 1,000,000
  enrolled encodings (``identify_100k_ms``);
* weight loading (226 CSVs, cold and warm: ``weights_load_warm_s``) and the
  course notebook top to bottom (``notebook_s``).

Usage::

    python benchmarks/run.py [--quick] [--json] [--weights DIR] [--update BENCHMARKS.md]

``--quick`` (what CI runs; under two minutes) uses fewer repeats and photos,
and galleries up to 100,000 without HNSW; it checks that everything runs, its
numbers are rougher. ``--update FILE`` rewrites the results block of FILE
(between ``<!-- results:begin -->`` and ``<!-- results:end -->``).
Needs the shared assets (``FACEREC_ASSETS``) and weights (``FACEREC_WEIGHTS`` or ``weights/``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_common import lfw_photos, machine, seconds, update_block  # noqa: E402

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

SETTINGS = {
    "quick": {"faces": 64, "encode_rounds": 1, "latency_faces": 16, "latency_rounds": 1,
              "photos": {"lfw": 4, "happy_house": 4, "canvas": 2}, "photo_rounds": 1,
              "sizes": {1_000: 20, 100_000: 3}, "search_rounds": 1, "loop_max": 100_000, "hnsw_max": 1_000,
              "cold_repeats": 1, "warm_repeats": 3, "cli_repeats": 2},
    "full": {"faces": 64, "encode_rounds": 9, "latency_faces": 32, "latency_rounds": 5,
             "photos": {"lfw": 16, "happy_house": 18, "canvas": 6}, "photo_rounds": 3,
             "sizes": {1_000: 50, 10_000: 20, 100_000: 5, 1_000_000: 20}, "search_rounds": 3,
             "loop_max": 100_000, "hnsw_max": 1_000_000, "cold_repeats": 3, "warm_repeats": 7, "cli_repeats": 7},
}

# (JSON key, what, comparison, target)
TARGETS = [
    ("encode_speedup_vs_dlib", "FaceRecoModel float32 vs dlib, faces/s on aligned faces (batch 64)", ">=", 30),
    ("facerec_faces_per_s", "FaceRecoModel float32 faces/s, batch 64", ">=", 500),
    ("facerec_vs_float32_ceiling", "... or this fraction of the measured float32 ceiling", ">=", 0.9),
    ("facerec_latency_ms", "FaceRecoModel float32 latency, batch 1 (ms)", "<=", 3),
    ("encode_speedup_vs_dlib_fast", "the fast path (int8) vs dlib, batch 64", ">=", 50),
    ("facerec_fast_latency_ms", "the fast path (int8), batch 1 (ms)", "<=", 3),
    ("encode_speedup_vs_dlib_flip", "FaceEncoder's default (face + mirror: two passes) vs dlib", ">=", 30),
    ("cli_identify_s", "one cold `facerec --db F identify photo.jpg` process, 640x480, nn4 (s)", "<=", 1.0),
    ("identify_100k_ms", "exact search, 100,000 encodings (ms/query)", "<", 10),
    ("identify_1m_faiss_ms", "FAISS HNSW, 1,000,000 encodings (ms/query)", "<", 10),
    ("weights_load_warm_s", "load the 226 CSV weights, warm (s)", "<", 1),
    ("notebook_s", "course notebook top to bottom (s)", "<", 60),
]

# the encoders timed against dlib: name -> (FaceEncoder keyword arguments, label in the table)
ENCODERS = {
    "facerec": ({"flip_average": False}, "FaceRecoModel (nn4.small2, 96x96), one pass, OpenVINO float32"),
    "facerec_fast": ({"flip_average": False, "precision": "int8"}, "the same, OpenVINO int8 (the fast path)"),
    "facerec_bf16": ({"flip_average": False, "precision": "bfloat16"}, "the same, OpenVINO bfloat16"),
    "facerec_ort": ({"flip_average": False, "runtime": "onnxruntime"}, "the same, ONNX Runtime float32"),
    "facerec_tf": ({"flip_average": False, "runtime": "tensorflow"}, "the same, TensorFlow float32"),
    "facerec_flip": ({}, "FaceEncoder default: face + mirror, averaged (OpenVINO)"),
}


def progress(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(settings: dict, weights_dir: Path, quiet: bool) -> dict:
    """Run every section; returns the results (without the headline fields)."""
    import bench_cli
    import bench_encode
    import bench_identify
    import bench_startup

    from facerec.encoder import FaceEncoder

    results: dict = {}

    progress(f"aligning {settings['faces']} LFW faces both ways", quiet)
    faces, chips = bench_encode.aligned_faces(lfw_photos(settings["faces"]))
    encoders = {name: FaceEncoder(weights_dir, **options) for name, (options, _) in ENCODERS.items()}
    progress("encoding aligned faces: FaceRecoModel in each runtime vs dlib", quiet)
    results["encode"] = bench_encode.encode_aligned(encoders, faces, chips, settings["encode_rounds"],
                                                    settings["latency_rounds"], settings["latency_faces"])
    results["encode"]["runtime"] = encoders["facerec"].runtime
    for name in ("fast", "bf16"):
        results["encode"][f"{name}_shift"] = bench_encode.encoding_shift(encoders["facerec"],
                                                                         encoders[f"facerec_{name}"], faces)
    results["encode"]["tf_difference_max"] = float(np.abs(encoders["facerec"].encode(faces)
                                                          - encoders["facerec_tf"].encode(faces)).max())
    results["encode"]["float32_ceiling"] = bench_encode.conv_ceiling(encoders["facerec_tf"].model,
                                                                    settings["encode_rounds"])
    progress("cold processes: facerec identify / verify against dlib alone", quiet)
    results["cold"] = bench_cli.cold_commands(settings["cli_repeats"])
    progress("end to end on photos", quiet)
    results["end_to_end"] = bench_encode.end_to_end(encoders["facerec_flip"], settings["photos"],
                                                    settings["photo_rounds"])
    results["identify"] = []
    for size, queries in settings["sizes"].items():
        progress(f"identification, {size:,} encodings", quiet)
        results["identify"].append(bench_identify.identify_size(
            size, queries, settings["search_rounds"], size <= settings["loop_max"], size <= settings["hnsw_max"]))
    if max(settings["sizes"]) > settings["loop_max"]:
        results["course_loop_extrapolated"] = bench_identify.extrapolate_loop(results["identify"],
                                                                              max(settings["sizes"]))
    progress("weight loading, cold and warm", quiet)
    results["weights"] = bench_startup.weights_load(weights_dir, settings["cold_repeats"], settings["warm_repeats"])
    progress("course notebook", quiet)
    with bench_startup.environment(FACEREC_WEIGHTS=str(weights_dir)):
        results["notebook"] = bench_startup.notebook()
    return results


def _row(results: dict, size: int) -> dict:
    return next((row for row in results["identify"] if row["size"] == size), {})


def headline(results: dict) -> dict:
    """The issue's named numbers (``None`` where this run did not measure them)."""
    encode, cold = results["encode"], results["cold"]
    ceiling = encode["float32_ceiling"]["ceiling_faces_per_s"]
    return {
        "runtime": encode["runtime"],
        "encode_speedup_vs_dlib": encode["facerec_speedup_batch"],
        "facerec_faces_per_s": encode["facerec_faces_per_s"],
        "facerec_latency_ms": encode["facerec_latency_ms"],
        "facerec_vs_float32_ceiling": encode["facerec_faces_per_s"] / ceiling,
        "float32_ceiling_faces_per_s": ceiling,
        "encode_speedup_vs_dlib_fast": encode["facerec_fast_speedup_batch"],
        "facerec_fast_faces_per_s": encode["facerec_fast_faces_per_s"],
        "facerec_fast_latency_ms": encode["facerec_fast_latency_ms"],
        "fast_encoding_shift_median": encode["fast_shift"]["median"],
        "encode_speedup_vs_dlib_bf16": encode["facerec_bf16_speedup_batch"],
        "facerec_bf16_faces_per_s": encode["facerec_bf16_faces_per_s"],
        "facerec_bf16_latency_ms": encode["facerec_bf16_latency_ms"],
        "bf16_encoding_shift_median": encode["bf16_shift"]["median"],
        "facerec_tf_faces_per_s": encode["facerec_tf_faces_per_s"],
        "facerec_tf_latency_ms": encode["facerec_tf_latency_ms"],
        "facerec_ort_faces_per_s": encode["facerec_ort_faces_per_s"],
        "facerec_ort_latency_ms": encode["facerec_ort_latency_ms"],
        "encode_speedup_vs_dlib_flip": encode["facerec_flip_speedup_batch"],
        "facerec_flip_faces_per_s": encode["facerec_flip_faces_per_s"],
        "facerec_flip_latency_ms": encode["facerec_flip_latency_ms"],
        "dlib_faces_per_s": encode["dlib_faces_per_s"],
        "dlib_latency_ms": encode["dlib_latency_ms"],
        "cli_identify_s": cold["cli_identify_s"],
        "cli_verify_s": cold["cli_verify_s"],
        "cli_identify_dlib_s": cold["cli_identify_dlib_s"],
        "cli_dlib_script_s": cold["cli_dlib_script_s"],
        "identify_100k_ms": _row(results, 100_000).get("exact_ms"),
        "identify_1m_ms": _row(results, 1_000_000).get("exact_ms"),
        "identify_1m_faiss_ms": _row(results, 1_000_000).get("faiss_hnsw_ms"),
        "weights_load_cold_s": results["weights"]["cold_s"],
        "weights_load_warm_s": results["weights"]["warm_s"],
        "notebook_s": results["notebook"]["seconds"],
        "dlib_encoder_photo_ms": results["end_to_end"]["lfw"].get("facerec_dlib_ms"),
        "nn4_encoder_photo_ms": results["end_to_end"]["lfw"]["facerec_ms"],
        "hog_detect_ms": results["end_to_end"]["lfw"].get("detect_hog_ms"),
        "cnn_detect_ms": results["end_to_end"]["lfw"].get("detect_cnn_ms"),
    }


def check_targets(numbers: dict) -> list[dict]:
    """Each target with the measured value and whether it is met (``None``: not measured in this run)."""
    compare = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
    return [{"key": key, "what": what, "target": f"{op} {target}", "value": numbers.get(key),
             "met": None if numbers.get(key) is None else bool(compare[op](numbers[key], target))}
            for key, what, op, target in TARGETS]


# -------------------------------------------------------------------------------------------------- the report


def fmt(value, digits: int = 1) -> str:
    """A number for the table: ``-`` when absent, thousands separators, ``digits`` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def encode_table(report: dict) -> list[str]:
    encode = report["encode"]
    names = {name: label for name, (_, label) in ENCODERS.items()}
    names["dlib"] = "dlib ResNet (face_recognition, 150x150)"
    rows = [[label, fmt(encode[f"{name}_faces_per_s"]), fmt(encode[f"{name}_latency_ms"], 2)]
            for name, label in names.items()]
    rows += [[f"speedup over dlib: {names[name]}", fmt(encode[f"{name}_speedup_batch"]) + "x",
              fmt(encode[f"{name}_speedup_latency"]) + "x"] for name in ENCODERS]
    shift, bf16, ceiling = encode["fast_shift"], encode["bf16_shift"], encode["float32_ceiling"]
    rates = ", ".join(f"{name} {rate:.0f}" for name, rate in ceiling["conv_gflop_per_s_by_runtime"].items())
    note = ["", f"OpenVINO float32 against TensorFlow on these faces: at most {encode['tf_difference_max']:.1e} apart "
            f"(per coordinate). Against float32, int8 moved the encodings by {shift['median']:.4f} (median L2 "
            f"distance; max {shift['max']:.4f}), bfloat16 by {bf16['median']:.4f} (max {bf16['max']:.4f}); the "
            f"verification threshold is {shift['threshold']:.3f}.",
            "", f"Batch-1 latency when FaceRecoModel and dlib alternate call by call instead of in blocks: "
            f"{encode['callwise_latency_ms']:.2f} ms (dlib's weights evict the network's from the CPU caches).",
            "", f"float32 ceiling: FaceRecoModel needs {ceiling['network_gflop_per_face']:.3f} GFLOP per face; its "
            f"largest convolution alone runs at {ceiling['conv_gflop_per_s']:.0f} GFLOP/s on this CPU (GFLOP/s by "
            f"runtime: {rates}), so even if every layer ran that fast, float32 could encode at most "
            f"{ceiling['ceiling_faces_per_s']:.0f} faces/s; OpenVINO float32 reaches "
            f"{report['facerec_vs_float32_ceiling']:.0%} of that."]
    return _table([f"aligned faces ({encode['faces']} LFW faces)", f"faces/s (batch {encode['batch']})",
                   "ms/face (batch 1)"], rows) + note


def photo_table(report: dict) -> list[str]:
    rows = [[f"{kind.replace('_', ' ')} ({row['size']}, {row['photos']} photos)", fmt(row["facerec_ms"]),
             fmt(row["detect_align_ms"]), fmt(row.get("facerec_dlib_ms")), fmt(row["dlib_ms"]),
             fmt(row["face_recognition_ms"]), fmt(row["speedup_vs_dlib"], 2) + "x", fmt(row.get("detect_hog_ms")),
             fmt(row.get("detect_cnn_ms"))]
            for kind, row in report["end_to_end"].items()]
    return _table(["end to end, ms/photo", "facerec, nn4 encoder", "(of which detect+align)", "facerec, dlib encoder",
                   "dlib, same detection", "face_recognition defaults", "nn4 vs dlib", "HOG detection alone",
                   "CNN detection alone"], rows) + [
        "", "facerec's two columns detect with `auto` (HOG, then dlib's CNN only when HOG finds nothing); the last "
        "two time `facerec.detect_faces` with each detector alone on the same photos."]


def identify_table(report: dict) -> list[str]:
    rows = []
    for row in report["identify"]:
        recall = row.get("faiss_hnsw_recall_at_1")
        hnsw = fmt(row.get("faiss_hnsw_ms"), 3) + (f" (recall {recall:.2f})" if recall is not None else "")
        rows.append([fmt(row["size"]), fmt(row.get("course_loop_ms"), 2), fmt(row["exact_ms"], 3),
                     fmt(row["faiss_flat_ms"], 3), hnsw,
                     " / ".join(fmt(row.get(f"{n}_mb")) for n in ("course_loop", "exact", "faiss_flat", "faiss_hnsw")),
                     fmt(row.get("faiss_hnsw_build_s"))])
    extra = report.get("course_loop_extrapolated")
    note = []
    if extra:
        rows[-1][1] = f"{fmt(extra['ms'], 0)} (extrapolated)"
        rows[-1][5] = rows[-1][5].replace("-", f"{fmt(extra['mb'], 0)} (extrapolated)", 1)
        costs = ", ".join(f"{fmt(us, 2)} µs at {fmt(int(size))}" for size, us in extra["per_entry_us"].items())
        note = ["", f"Course loop at {fmt(extra['size'])}: extrapolated from {fmt(extra['from_size'])}; its time per "
                f"entry was {costs} ({'linear' if extra['linear'] else 'NOT linear: the extrapolation is rough'})."]
    return _table(["encodings", "course loop ms", "exact ms", "FAISS flat ms", "FAISS HNSW ms",
                   "memory MB: loop / exact / flat / HNSW", "HNSW build s"], rows) + note


def startup_table(report: dict) -> list[str]:
    weights, notebook = report["weights"], report["notebook"]
    errors = f" ({len(notebook['errors'])} cells raised)" if notebook["errors"] else ""
    cold = report["cold"]
    rows = [[f"cold process: `facerec identify` a 640x480 photo, nn4 database (median of {cold['repeats']})",
             fmt(cold["cli_identify_s"], 2)],
            ["cold process: `facerec verify` the same photo, nn4 database", fmt(cold["cli_verify_s"], 2)],
            ["cold process: `facerec identify`, dlib database", fmt(cold["cli_identify_dlib_s"], 2)],
            ["cold process: the same with dlib alone (a face_recognition-style script)",
             fmt(cold["cli_dlib_script_s"], 2)],
            *[[f"`python -c \"import {module}\"`", fmt(cold[f"import_{module}_s"], 2)]
              for module in ("facerec", "openvino", "onnxruntime", "tensorflow")],
            [f"load {weights['csv_files']} CSV weights, cold (no binary cache)", fmt(weights["cold_s"], 2)],
            ["load the CSV weights, warm (binary cache)", fmt(weights["warm_s"], 3)],
            ["FaceEncoder(...) warm: fingerprint, compile (OpenVINO)", fmt(weights["encoder_init_warm_s"], 2)],
            ["import tensorflow (in the benchmark's process)", fmt(report["import_tensorflow_s"], 2)],
            [f"course notebook, {notebook['code_cells']} code cells, fresh kernel{errors}",
             fmt(notebook["seconds"], 1)]]
    rows += [[f"... of which cell `{cell['id']}`", fmt(cell["seconds"], 1)] for cell in notebook["slowest_cells"]]
    return _table(["start-up", "seconds"], rows)


def targets_table(report: dict) -> list[str]:
    rows = [[t["what"], f"`{t['key']}`", t["target"], fmt(t["value"], 3),
             {True: "met", False: "**missed**", None: "not measured"}[t["met"]]] for t in report["targets"]]
    return _table(["target", "key", "target", "measured", ""], rows)


def machine_lines(report: dict) -> list[str]:
    m = report["machine"]
    load = "; a training job (facerec train or train-head) was running" if m["training_running"] else ""
    return [f"- CPU: {m['cpu']}, {m['cores']} cores ({m['logical_cpus']} logical CPUs), {m['memory_gib']} GiB memory",
            f"- OS: {m['os']}",
            f"- Python {m['python']}, OpenVINO {m['openvino']}, ONNX Runtime {m['onnxruntime']}, TensorFlow "
            f"{m['tensorflow']}, Keras {m['keras']}, NumPy {m['numpy']}, dlib {m['dlib']}, FAISS {m['faiss']}",
            f"- load average (1 min) at start {m['load_average_1min']}, at end {report['load_average_end']}{load}"]


def markdown(report: dict) -> str:
    """The report as Markdown: command, machine, tables."""
    lines = [f"Command: `{report['command']}` ({'quick' if report['quick'] else 'full'} run, "
             f"{report['date']}, {report['elapsed_s']:.0f} s).", "", "Machine:", "", *machine_lines(report), ""]
    for table in (targets_table, encode_table, photo_table, identify_table, startup_table):
        lines += table(report) + [""]
    return "\n".join(lines)


def update_file(path: Path, text: str) -> None:
    """Replace the results block of ``path`` (appended when the markers are missing)."""
    update_block(path, text, BEGIN, END)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller galleries (CI, < 2 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    parser.add_argument("--weights", type=Path, default=None,
                        help="weights folder (default: $FACEREC_WEIGHTS or the repository's weights/)")
    parser.add_argument("--update", type=Path, default=None, metavar="FILE",
                        help="also write the tables into FILE's results block (e.g. BENCHMARKS.md)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from facerec.encoder import default_weights_dir

    weights_dir = (args.weights or default_weights_dir()).resolve()
    if not any(weights_dir.glob("*.csv")):
        print(f"run.py: no CSV weights in {weights_dir}; pass --weights DIR or set FACEREC_WEIGHTS", file=sys.stderr)
        return 2
    start = time.perf_counter()
    progress("importing TensorFlow", args.json)
    import_s = seconds(lambda: __import__("tensorflow"))
    report = {"command": " ".join(["python benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
              "quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M %Z"), "weights": str(weights_dir),
              "machine": machine(), "import_tensorflow_s": import_s}
    report.update(measure(SETTINGS["quick" if args.quick else "full"], weights_dir, quiet=args.json))
    report["load_average_end"] = round(os.getloadavg()[0], 2)
    report["machine"]["training_running"] |= __import__("bench_common").training_running()
    report["elapsed_s"] = time.perf_counter() - start
    report.update(headline(report))
    report["targets"] = check_targets(report)
    text = markdown(report)
    if args.update:
        update_file(args.update, text)
    print(json.dumps(report, default=float) if args.json else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
