"""The Gradescope autograder bundle: ``python -m course gradescope --out autograder.zip``.

Gradescope's autograder takes a zip with ``setup.sh`` (run once, as root, when the
image is built) and ``run_autograder`` (run for each submission) at its top; the
zip is unpacked into ``/autograder/source``, the student's files are put in
``/autograder/submission`` and the score is read from
``/autograder/results/results.json``. This bundle holds:

* ``setup.sh``: a virtual environment in ``/autograder/venv`` with the pinned
  runtime dependencies of ``requirements.txt`` (TensorFlow, dlib, ...);
* ``run_autograder``: grades the first ``*.ipynb`` of the submission folder with
  ``python -m course grade --gradescope`` (the student's code in a child process,
  a time limit per test) and writes ``results.json``: one entry per graded
  function with its points, and one zero-point entry per hidden test, marked
  ``"visibility": "hidden"`` (instructors see them, students do not);
* the course (``course/``, ``facerec/``, ``fr_utils.py``, ``inception_blocks.py``), the
  solution notebook (its setup cell is the graded namespace), the trained weights
  (``weights/``: CSVs and model card) and the Happy House photos (``images/``).

``AUTOGRADER_ROOT`` (default ``/autograder``) and ``AUTOGRADER_PYTHON`` (default the
bundle's venv) let a test run ``run_autograder`` in a folder laid out like Gradescope's.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from facerec.exceptions import ImageNotReadable
from facerec.paths import IMAGES_DIR, REPO_ROOT, assets_dir

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
if ! command -v python3 >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv python3-pip
fi
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install -q --upgrade pip
/autograder/venv/bin/python -m pip install -q -r requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; it writes $ROOT/results/results.json.
set -uo pipefail
ROOT=${AUTOGRADER_ROOT:-/autograder}
PYTHON=${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}
mkdir -p "$ROOT/results"
cd "$ROOT/source"
submission=$(find "$ROOT/submission" -maxdepth 2 -name '*.ipynb' | sort | head -n 1)
if [ -z "$submission" ]; then
  echo '{"score": 0, "output": "No .ipynb notebook was found in the submission: upload Face_Recognition.ipynb."}' \\
    > "$ROOT/results/results.json"
  exit 0
fi
export FACEREC_WEIGHTS="$ROOT/source/weights" TF_CPP_MIN_LOG_LEVEL=2
"$PYTHON" -m course grade "$submission" --gradescope "$ROOT/results/results.json"
"""

SOURCES = ("course", "facerec", "fr_utils.py", "inception_blocks.py", "notebooks/Face_Recognition.ipynb")
_SKIP = ("__pycache__", ".pyc")


def runtime_requirements(path: Path = REPO_ROOT / "requirements.txt") -> str:
    """The pinned runtime section of ``requirements.txt`` (everything above "# Tests and tooling")."""
    text = path.read_text()
    return text.split("# Tests and tooling")[0].strip() + "\n"


def _happy_house_photos() -> list[Path]:
    for folder in (IMAGES_DIR, assets_dir() / "happy-house" / "images"):
        photos = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if photos:
            return photos
    raise ImageNotReadable(f"no Happy House photos in {IMAGES_DIR}; run `bash setup.sh` (or set FACEREC_ASSETS)")


def _files(weights_dir: Path) -> dict[str, Path]:
    """Archive name -> file on disk, for everything the bundle holds but its two scripts."""
    files: dict[str, Path] = {}
    for source in SOURCES:
        path = REPO_ROOT / source
        for item in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if item.is_file() and not any(part in str(item) for part in _SKIP):
                files[item.relative_to(REPO_ROOT).as_posix()] = item
    for item in sorted(weights_dir.glob("*.csv")) + [weights_dir / "model.json"]:
        files[f"weights/{item.name}"] = item
    for photo in _happy_house_photos():
        files[f"images/{photo.name}"] = photo
    return files


def build_bundle(out: str | os.PathLike, weights_dir: str | os.PathLike | None = None) -> Path:
    """Write the autograder zip to ``out`` (see the module docstring); returns its path."""
    from facerec.encoder import default_weights_dir

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable once unpacked
            bundle.writestr(info, text)
        bundle.writestr("requirements.txt", runtime_requirements())
        for name, path in _files(Path(weights_dir or default_weights_dir())).items():
            bundle.write(path, name)
    os.replace(tmp, out)
    return out
