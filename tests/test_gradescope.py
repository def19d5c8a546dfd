"""The Gradescope bundle: built, unpacked into a folder laid out like Gradescope's, run on two submissions.

``/autograder/source`` (the unpacked zip), ``submission`` and ``results`` live under
a temporary root (``AUTOGRADER_ROOT``); ``run_autograder`` runs with this test's
Python (``AUTOGRADER_PYTHON``) instead of the venv ``setup.sh`` would make.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import zipfile

import pytest
from helpers_issue4 import weights_or_skip

from course import grader, notebook_tools, solutions
from course.grader import SOURCE_NOTEBOOK
from course.gradescope import build_bundle


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """``(root, bundle)``: the bundle unpacked into ``root/source``, as Gradescope does."""
    weights_or_skip()
    root = tmp_path_factory.mktemp("autograder")
    bundle = build_bundle(root / "autograder.zip")
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        archive.extractall(root / "source")
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.txt", "course/grader.py", "facerec/database.py",
            "notebooks/Face_Recognition.ipynb", "weights/model.json", "images/younes.jpg"} <= names
    assert len([n for n in names if n.startswith("weights/") and n.endswith(".csv")]) == 226
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "tensorflow-cpu==" in (root / "source" / "requirements.txt").read_text()
    assert "pytest" not in (root / "source" / "requirements.txt").read_text()
    for name in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / name, 0o755)  # zipfile does not restore modes
    return root


def _run(root, notebook) -> dict:
    """Put ``notebook`` in ``root/submission``, run ``run_autograder``, return ``results.json``."""
    import shutil

    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    submission.mkdir()
    notebook_tools.write(notebook, submission / "Face_Recognition.ipynb")
    env = {key: value for key, value in os.environ.items() if key != "FACEREC_WEIGHTS"}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable, PYTHONPATH="")
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def _student(names: set[str]):
    """The student notebook with the reference solutions of ``names`` filled in."""
    notebook = notebook_tools.make_student_notebook(notebook_tools.read(SOURCE_NOTEBOOK))
    for name, cell in notebook_tools.graded_cells(notebook).items():
        if name in names:
            cell.source = f"# GRADED FUNCTION: {name}\n" + inspect.getsource(getattr(solutions, name))
    return notebook


def test_a_full_marks_submission_scores_everything(autograder):
    results = _run(autograder, _student(set(solutions.GRADED_FUNCTIONS)))
    full = sum(grader.POINTS.values())
    assert results["score"] == results["max_score"] == full
    visible = [t for t in results["tests"] if t["visibility"] == "visible"]
    hidden = [t for t in results["tests"] if t["visibility"] == "hidden"]
    assert [t["name"] for t in visible] == list(solutions.GRADED_FUNCTIONS)
    assert hidden and all(t["status"] == "passed" and t["max_score"] == 0 for t in hidden)


def test_a_partial_submission_scores_its_functions_only(autograder):
    results = _run(autograder, _student({"triplet_loss", "verify"}))
    assert results["score"] == grader.POINTS["triplet_loss"] + grader.POINTS["verify"]
    status = {t["name"]: t["status"] for t in results["tests"] if t["visibility"] == "visible"}
    assert status == {"triplet_loss": "passed", "img_to_encoding": "failed", "verify": "passed",
                      "who_is_it": "failed", "select_triplets": "failed"}


def test_no_notebook_in_the_submission_scores_zero_with_a_message(autograder):
    (autograder / "submission").mkdir(exist_ok=True)
    for old in (autograder / "submission").glob("*"):
        old.unlink()
    env = {**os.environ, "AUTOGRADER_ROOT": str(autograder), "AUTOGRADER_PYTHON": sys.executable}
    subprocess.run(["bash", str(autograder / "source" / "run_autograder")], env=env, check=True, timeout=60)
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert results["score"] == 0 and ".ipynb" in results["output"]


def test_the_gradescope_command_writes_the_zip(tmp_path):
    weights_or_skip()
    out = tmp_path / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "course", "gradescope", "--out", str(out)], capture_output=True,
                          text=True, timeout=300, cwd=grader.SOURCE_NOTEBOOK.parent.parent)
    assert done.returncode == 0, done.stderr
    assert zipfile.is_zipfile(out) and "run_autograder" in zipfile.ZipFile(out).namelist()
