"""Start-up costs: loading the 226 weight CSVs (cold and warm) and running the course notebook.

* cold: ``FACEREC_CACHE`` points at a new empty folder, so every CSV is parsed
  (and the binary cache written); the CSVs themselves are in the OS page cache.
* warm: the binary cache written by the cold load is read back.
  Both time :func:`facerec.models.weights.load_csv_weights` into an already built model;
  ``encoder_init_warm_s`` is the whole ``FaceEncoder(...)`` (build the network, load, fingerprint).
* notebook: ``notebooks/Face_Recognition.ipynb`` run top to bottom in a fresh
  ``python3`` kernel (a subprocess, started by nbclient as the tests do), with the
  repository on ``PYTHONPATH``; kernel start-up included; the slowest cells are named.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench_common import REPO, median_seconds, seconds


@contextmanager
def environment(**values: str):
    """Set environment variables for the duration of a block, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def weights_load(weights_dir: Path, cold_repeats: int, warm_repeats: int) -> dict:
    """Seconds to load the CSV weights cold (no binary cache) and warm, and to build a whole encoder."""
    from facerec.encoder import FaceEncoder
    from facerec.models.nn4_small2 import build_nn4_small2
    from facerec.models.weights import load_csv_weights

    model = build_nn4_small2()
    cold = []
    with tempfile.TemporaryDirectory() as cache:
        for repeat in range(cold_repeats):
            empty = Path(cache) / f"cold{repeat}"
            with environment(FACEREC_CACHE=str(empty)):
                cold.append(seconds(lambda: load_csv_weights(model, weights_dir)))
        with environment(FACEREC_CACHE=str(Path(cache) / "cold0")):
            warm = median_seconds(lambda: load_csv_weights(model, weights_dir), warm_repeats)
            init = median_seconds(lambda: FaceEncoder(weights_dir), max(1, warm_repeats // 2), warmup=0)
    files = len(list(Path(weights_dir).glob("*.csv")))
    return {"csv_files": files, "cold_s": statistics.median(cold), "warm_s": warm, "encoder_init_warm_s": init}


def _cell_seconds(cell) -> float:
    """Seconds a code cell ran, from the timestamps nbclient records (0.0 when missing)."""
    from datetime import datetime

    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    start, end = (datetime.fromisoformat(text.replace("Z", "+00:00")) for text in (start, end))
    return (end - start).total_seconds()


def notebook(timeout: int = 600, slowest: int = 3) -> dict:
    """Seconds to run the course notebook top to bottom, its ``slowest`` cells, and the errors raised."""
    from course import notebook_tools

    path = REPO / "notebooks" / "Face_Recognition.ipynb"
    nb = notebook_tools.read(path)
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    with environment(PYTHONPATH=python_path, TF_CPP_MIN_LOG_LEVEL="2"):
        start = time.perf_counter()
        notebook_tools.execute(nb, path.parent, timeout=timeout, allow_errors=True, record_timing=True)
        elapsed = time.perf_counter() - start
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    errors = [o.ename for cell in cells for o in cell.outputs if o.output_type == "error"]
    timed = sorted(((cell.get("id", "?"), _cell_seconds(cell)) for cell in cells), key=lambda c: -c[1])
    return {"seconds": elapsed, "code_cells": len(cells), "errors": errors,
            "slowest_cells": [{"id": cell_id, "seconds": seconds} for cell_id, seconds in timed[:slowest]]}
