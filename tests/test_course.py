"""The course: graded functions, public and hidden tests, the notebook, the student version and the grader.

Tests that run the model need the weights (``weights/model.json``, or ``$FACEREC_WEIGHTS``)
and the Happy House photos (``$FACEREC_ASSETS``); they skip with the reason when either is absent.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # until `course` is listed in pyproject's packages
    sys.path.insert(0, str(REPO))

matplotlib.use("Agg")

import helpers_course as mutants  # noqa: E402

from course import demo, figures, grader, hidden_tests, notebook_tools, public_tests, solutions  # noqa: E402
from facerec.encoder import default_weights_dir  # noqa: E402
from facerec.exceptions import ImageNotReadable  # noqa: E402
from facerec.paths import assets_dir  # noqa: E402

NOTEBOOK = REPO / "notebooks" / "Face_Recognition.ipynb"
HAVE_WEIGHTS = (default_weights_dir() / "model.json").is_file()
HAVE_PHOTOS = (assets_dir() / "happy-house" / "images" / "camera_0.jpg").is_file() \
    or (REPO / "images" / "camera_0.jpg").is_file()
HAVE_LFW = (assets_dir() / "lfw" / "lfw-names.txt").is_file()
needs_model = pytest.mark.skipif(not (HAVE_WEIGHTS and HAVE_PHOTOS),
                                 reason=f"needs the weights ({default_weights_dir()}/model.json; set FACEREC_WEIGHTS) "
                                        f"and the Happy House photos ({assets_dir()}/happy-house; set FACEREC_ASSETS)")
needs_notebook_data = pytest.mark.skipif(not HAVE_LFW, reason=f"the notebook needs LFW in {assets_dir()}/lfw")


@pytest.fixture(scope="module")
def model():
    return solutions.load_model()


@pytest.fixture(scope="module")
def student_nb():
    return notebook_tools.make_student_notebook(notebook_tools.read(NOTEBOOK))


def _call_test(test, function, model):
    return test(function, model) if "model" in inspect.signature(test).parameters else test(function)


def _kernel_env(monkeypatch) -> None:
    """Let the notebook's kernel import `course` from the repository (until it is an installed package)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


# ---------------------------------------------------------------------------------------- reference solution


def test_triplet_loss_reference_matches_formula():
    rng = np.random.default_rng(3)
    a, p, n = (rng.normal(size=(5, 128)).astype(np.float32) for _ in range(3))
    expected = np.maximum(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 0.3, 0).sum()
    assert float(solutions.triplet_loss(None, [a, p, n], alpha=0.3)) == pytest.approx(expected, rel=1e-5)
    assert float(solutions.triplet_loss(None, (a, a, a), alpha=0.3)) == pytest.approx(5 * 0.3, rel=1e-6)


def test_happy_house_image_finds_jpg_and_png_and_explains_missing():
    if not HAVE_PHOTOS:
        pytest.skip(f"Happy House photos not found in {assets_dir()}/happy-house/images")
    assert solutions.happy_house_image("camera_0").endswith("camera_0.jpg")
    assert solutions.happy_house_image("danielle").endswith("danielle.png")
    assert solutions.happy_house_image("younes.jpg").endswith("younes.jpg")
    with pytest.raises(ImageNotReadable, match="facerec setup"):
        solutions.happy_house_image("nobody")


@needs_model
@pytest.mark.parametrize("name", solutions.GRADED_FUNCTIONS)
def test_public_tests_pass_on_reference(name, model, capsys):
    for test in public_tests.TESTS[name]:
        _call_test(test, getattr(solutions, name), model)
    assert capsys.readouterr().out.strip().endswith("All tests passed.")


@needs_model
@pytest.mark.parametrize("test", [t for tests in hidden_tests.TESTS.values() for t in tests], ids=lambda t: t.__name__)
def test_hidden_tests_pass_on_reference(test, model):
    name = next(name for name, tests in hidden_tests.TESTS.items() if test in tests)
    _call_test(test, getattr(solutions, name), model)


@needs_model
def test_reference_verify_and_who_is_it_follow_the_threshold(model, capsys):
    from course._checks import at_distances, reference_encoding, threshold

    image = solutions.happy_house_image("camera_0")
    encoding = reference_encoding(image, model)
    t = threshold()
    close = at_distances(encoding, {"younes": 0.5 * t, "kian": 1.5 * t})
    assert solutions.verify(image, "younes", close, model) == (pytest.approx(0.5 * t, abs=1e-5), True)
    assert solutions.verify(image, "kian", close, model) == (pytest.approx(1.5 * t, abs=1e-5), False)
    assert solutions.who_is_it(image, {"kian": close["kian"]}, model) == (pytest.approx(1.5 * t, abs=1e-5), "kian")
    assert capsys.readouterr().out.splitlines() == [
        "It's younes, welcome in!", "It's not kian, please go away", "Not in the database."]


def _trained_weights() -> bool:
    """True when the weights in use are the trained set (not the development placeholder)."""
    return HAVE_WEIGHTS and "PLACEHOLDER" not in (default_weights_dir() / "model.json").read_text()


@needs_model
@pytest.mark.skipif(not _trained_weights(), reason="needs the trained weights to recognise the residents "
                                                   "(weights/model.json absent, or the development placeholder)")
def test_trained_model_recognises_the_camera_shots(model, capsys):
    database = solutions.build_database(model)
    for shot, resident in solutions.KNOWN_CAMERA_SHOTS.items():
        assert solutions.who_is_it(solutions.happy_house_image(shot), database, model)[1] == resident
    assert solutions.verify(solutions.happy_house_image("camera_0"), "younes", database, model)[1] is True
    assert solutions.verify(solutions.happy_house_image("camera_2"), "kian", database, model)[1] is False


# ------------------------------------------------------------------------------------ the tests bite (mutants)

PUBLIC_MUTANTS = [
    ("triplet_loss", mutants.triplet_mean, "don't average"),
    ("triplet_loss", mutants.triplet_max_of_sum, "for each triplet first"),
    ("triplet_loss", mutants.triplet_not_squared, "squared distances"),
    ("triplet_loss", mutants.triplet_no_alpha, "add the margin alpha"),
    ("triplet_loss", mutants.triplet_ignores_alpha_argument, "alpha=1.5"),
    ("triplet_loss", mutants.triplet_numpy, "TensorFlow ops"),
    ("triplet_loss", mutants.triplet_vector, "not a scalar"),
    ("triplet_loss", mutants.triplet_stops_gradient, "cannot compute the gradient"),
    ("img_to_encoding", mutants.encoding_not_scaled, "divide the uint8 face by 255.0"),
    ("img_to_encoding", mutants.encoding_not_aligned, "find_and_align"),
    ("img_to_encoding", mutants.encoding_tensor, "not a numpy array"),
    ("img_to_encoding", mutants.encoding_flat, "expected (1, 128)"),
    ("img_to_encoding", mutants.encoding_fixed_image, "danielle.png"),
    ("verify", mutants.verify_squared, "not its square"),
    ("verify", mutants.verify_no_identity_check, "UnknownIdentity"),
    ("verify", mutants.verify_wrong_message, "should print"),
    ("verify", mutants.verify_door_as_text, "expected True or False"),
    ("who_is_it", mutants.who_is_it_first_entry, "returned identity="),
    ("who_is_it", mutants.who_is_it_forgets_identity, "returned identity="),
    ("who_is_it", mutants.who_is_it_course_original, "EmptyDatabase"),
    ("who_is_it", mutants.who_is_it_never_unknown, "Not in the database."),
]


@needs_model
@pytest.mark.parametrize(("name", "mutant", "hint"), PUBLIC_MUTANTS, ids=[m[1].__name__ for m in PUBLIC_MUTANTS])
def test_public_tests_reject_common_mistakes(name, mutant, hint, model):
    (test,) = public_tests.TESTS[name]
    with pytest.raises(AssertionError) as failure:
        _call_test(test, mutant, model)
    assert hint in str(failure.value), str(failure.value)


HIDDEN_MUTANTS = [
    ("img_to_encoding", mutants.encoding_without_detection, hidden_tests.img_to_encoding_large_photo),
    ("verify", mutants.verify_hard_coded_threshold, hidden_tests.verify_threshold_from_model_card),
]


@needs_model
@pytest.mark.parametrize(("name", "mutant", "test"), HIDDEN_MUTANTS, ids=[m[1].__name__ for m in HIDDEN_MUTANTS])
def test_hidden_tests_reject_what_public_tests_may_miss(name, mutant, test, model):
    with pytest.raises(AssertionError):
        _call_test(test, mutant, model)


# ------------------------------------------------------------------------------------------- student version

SOLUTION_CELL = '''def f(x, pairs):
    """Docstring stays."""
    ### START CODE HERE
    # Step 1 (≈ 1 line)
    total = x + 1
    a, b = pairs[0]
    values[0] = 3
    total += 2
    for name, value in pairs.items():
        if value > total:
            print(f"big {name}={value}")
            found.append((name, value))  # a method call
        elif value == total:
            print("equal")
        else:
            pass
    while total > 10:
        total -= 1
    return total
    ### END CODE HERE
'''

STUDENT_CELL = '''def f(x, pairs):
    """Docstring stays."""
    ### START CODE HERE
    # Step 1 (≈ 1 line)
    total = None
    a, b = None, None
    values[0] = None
    total = None
    for name, value in None:
        if None:
            print(f"big {name}={value}")
            found.append(None)
        elif None:
            print("equal")
        else:
            pass
    while None:
        total = None
    return None
    ### END CODE HERE'''


def test_studentize_replaces_solutions_with_placeholders():
    assert notebook_tools.studentize(SOLUTION_CELL) == STUDENT_CELL


@pytest.mark.parametrize(("source", "problem"), [
    ("### START CODE HERE\nx = 1\n", "not closed"),
    ("x = 1\n### END CODE HERE\n", "unmatched"),
    ("### START CODE HERE\n### START CODE HERE\n### END CODE HERE\n", "nested"),
    ("### START CODE HERE\nx = f(1,\n      2)\n### END CODE HERE\n", "one line"),
])
def test_studentize_rejects_malformed_cells(source, problem):
    with pytest.raises(notebook_tools.NotebookFormatError, match=problem):
        notebook_tools.studentize(source)


def test_notebook_graded_cells_are_the_reference_solutions():
    cells = notebook_tools.graded_cells(notebook_tools.read(NOTEBOOK))
    assert sorted(cells) == sorted(solutions.GRADED_FUNCTIONS)
    for name, cell in cells.items():
        assert cell.source == f"# GRADED FUNCTION: {name}\n" + inspect.getsource(getattr(solutions, name)).strip(), \
            f"the notebook's {name} differs from course/solutions.py: run notebooks/build_notebook.py"


def test_student_notebook_is_locked_and_holds_no_solution(student_nb):
    graded = notebook_tools.graded_cells(student_nb)
    assert sorted(graded) == sorted(solutions.GRADED_FUNCTIONS)
    for cell in student_nb.cells:
        assert cell.metadata["deletable"] is False
        assert cell.metadata["editable"] is (cell in graded.values())
        assert cell.cell_type != "code" or (cell.outputs == [] and cell.execution_count is None)
    for name, cell in graded.items():
        reference = inspect.getsource(getattr(solutions, name))
        inside = reference.split(notebook_tools.START)[1].split(notebook_tools.END)[0]
        given = ("#", "print(", "else:", notebook_tools.START)
        solution_lines = {line.strip() for line in inside.splitlines()
                          if line.strip() and not line.strip().startswith(given)}
        leaked = solution_lines & {line.strip() for line in cell.source.splitlines()}
        assert not leaked, f"{name}: the student version still holds {leaked}"
        assert "graded" in cell.metadata["tags"] and f"graded:{name}" in cell.metadata["tags"]
    expected = [cell for cell in student_nb.cells if notebook_tools.EXPECTED_TAG in notebook_tools.tags(cell)]
    assert len(expected) >= 9 and all("(filled in" not in cell.source for cell in expected)


def test_generate_student_command_writes_a_valid_notebook(tmp_path):
    out = tmp_path / "student.ipynb"
    done = subprocess.run([sys.executable, "-m", "course", "generate-student", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    nb = notebook_tools.read(out)
    assert nb.metadata["course"]["version"] == "student"
    assert "### START CODE HERE" in notebook_tools.graded_cells(nb)["verify"].source


# ---------------------------------------------------------------------------------------------------- grading


def test_definitions_only_drops_calls():
    source = "import numpy as np\nx = 1\ndef f():\n    return x\nf()\nprint('hi')\nclass A:\n    pass\n"
    kept = grader.definitions_only(source)
    assert "print" not in kept and "f()" not in kept.replace("def f():", "")
    assert "import numpy as np" in kept and "class A" in kept and "x = 1" in kept


def _with_solution(student_nb, names):
    """The student notebook with the reference solution pasted into the graded cells of ``names``."""
    import copy

    nb = copy.deepcopy(student_nb)
    for name, cell in notebook_tools.graded_cells(nb).items():
        if name in names:
            cell.source = f"# GRADED FUNCTION: {name}\n" + inspect.getsource(getattr(solutions, name))
    return nb


@needs_model
def test_grading_the_student_notebook_gives_zero(student_nb, tmp_path):
    submission = notebook_tools.write(student_nb, tmp_path / "student.ipynb")
    report_path = tmp_path / "grade.json"
    done = subprocess.run([sys.executable, "-m", "course", "grade", str(submission), "--json", str(report_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    assert report["score"] == 0 and report["max_score"] == sum(grader.POINTS.values())
    assert [test["status"] for test in report["tests"]] == ["failed"] * 5
    for function in report["functions"]:
        assert function["tests"] and not any(test["passed"] for test in function["tests"] if
                                             test["visibility"] == "public"), function
    assert "total" in done.stdout and "0/13" in done.stdout


@needs_model
@pytest.mark.parametrize("name", solutions.GRADED_FUNCTIONS)
def test_one_function_filled_in_scores_exactly_that_function(name, student_nb, tmp_path, model):
    submission = notebook_tools.write(_with_solution(student_nb, {name}), tmp_path / "one.ipynb")
    report = grader.grade_notebook(submission, isolate=False, model=model)
    scores = {f.name: f.score for f in report.functions}
    assert scores == {other: grader.POINTS[other] if other == name else 0 for other in solutions.GRADED_FUNCTIONS}
    assert report.score == grader.POINTS[name]
    assert f"{grader.POINTS[name]}/{grader.POINTS[name]}" in report.table()


@needs_model
def test_grader_survives_missing_broken_and_hanging_cells(model):
    setup = notebook_tools.setup_sources(notebook_tools.read(NOTEBOOK))
    missing = grader.grade_function("verify", None, setup, model)
    assert missing.score == 0 and "missing" in missing.error
    broken = grader.grade_function("verify", "def verify(:\n", setup, model)
    assert broken.score == 0 and "syntax error" in broken.error
    renamed = grader.grade_function("verify", "def check(a, b, c, d):\n    return 1, True\n", setup, model)
    assert renamed.score == 0 and "named verify" in renamed.error
    exits = grader.grade_function("triplet_loss", "import sys\ndef triplet_loss(y_true, y_pred, alpha=0.2):\n"
                                                  "    sys.exit(1)\n", setup, model)
    assert exits.score == 0 and all(not test.passed for test in exits.tests)
    hangs = grader.grade_function("triplet_loss", "def triplet_loss(y_true, y_pred, alpha=0.2):\n"
                                                  "    while True:\n        pass\n", setup, model, time_limit=1)
    assert hangs.score == 0 and "longer than" in hangs.tests[0].message
    stray_call = "def triplet_loss(y_true, y_pred, alpha=0.2):\n    return 0\ntriplet_loss(None, undefined_name)\n"
    loaded = grader.grade_function("triplet_loss", stray_call, setup, model)
    assert not loaded.error and loaded.tests  # the stray call was not run


def test_grading_a_file_that_is_not_a_notebook(tmp_path):
    bad = tmp_path / "essay.ipynb"
    bad.write_text("not json")
    with pytest.raises(grader.SubmissionError, match="not a readable Jupyter notebook"):
        grader.submission_sources(bad)
    with pytest.raises(grader.SubmissionError, match="does not exist"):
        grader.submission_sources(tmp_path / "none.ipynb")


def test_report_json_has_gradescope_layout():
    report = grader.GradeReport("nb.ipynb", [
        grader.FunctionResult("triplet_loss", 3, [grader.TestResult("t", "public", True)]),
        grader.FunctionResult("verify", 3, [grader.TestResult("t", "public", True),
                                            grader.TestResult("h", "hidden", False, "secret")]),
    ])
    data = report.to_json()
    assert data["score"] == 3 and data["max_score"] == 6
    assert [(t["name"], t["score"], t["status"]) for t in data["tests"]] == [
        ("triplet_loss", 3, "passed"), ("verify", 0, "failed")]
    assert data["tests"][1]["output"] == "hidden test h failed"  # hidden tests' messages stay in "functions"
    assert data["functions"][1]["tests"][1]["message"] == "secret"


# ----------------------------------------------------------------------------------------------- the notebook


def test_same_output_tolerates_last_digit_only():
    assert notebook_tools.same_output("loss = 527.2598", "loss = 527.2599")
    assert not notebook_tools.same_output("loss = 527.2598", "loss = 527.2610")
    assert not notebook_tools.same_output("camera_1 dist 0.5", "camera_2 dist 0.5")
    assert not notebook_tools.same_output("It's younes, welcome in!", "It's not younes, please go away")
    assert notebook_tools.same_output("[ 0.0229 -0.0438]", "[0.0229 -0.0438]")


@needs_model
@needs_notebook_data
def test_notebook_runs_and_reproduces_its_expected_outputs(monkeypatch, model):
    from facerec.models.weights import weights_fingerprint

    nb = notebook_tools.read(NOTEBOOK)
    built_with = nb.metadata.get("course", {}).get("weights_fingerprint")
    assert built_with == weights_fingerprint(model), (
        "notebooks/Face_Recognition.ipynb's Expected output cells were made with other weights; "
        "rebuild it: .venv/bin/python notebooks/build_notebook.py")
    _kernel_env(monkeypatch)
    notebook_tools.execute(nb, NOTEBOOK.parent, timeout=300)
    assert notebook_tools.output_mismatches(nb) == []
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert errors == []


@needs_model
def test_student_notebook_fails_every_public_test(student_nb, monkeypatch):
    """Run the student notebook's graded cells and test cells: every public test must fail."""
    import copy

    keep = {"setup", "model", "load-weights"} | {f"test-{n.replace('_', '-')}" for n in solutions.GRADED_FUNCTIONS}
    nb = copy.deepcopy(student_nb)
    nb.cells = [cell for cell in nb.cells if cell.cell_type == "code"
                and (cell.get("id") in keep or notebook_tools.graded_name(cell))]
    _kernel_env(monkeypatch)
    notebook_tools.execute(nb, NOTEBOOK.parent, timeout=300, allow_errors=True)
    for name in solutions.GRADED_FUNCTIONS:
        cell = next(c for c in nb.cells if c.get("id") == f"test-{name.replace('_', '-')}")
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors and errors[0].ename == "AssertionError", f"{name}'s public test did not fail: {cell.outputs}"
        assert "Hint:" in errors[0].evalue


# ------------------------------------------------------------------------------------------ figures and demo


def test_distance_heatmap_outlines_accepted_cells_and_marks_the_threshold():
    distances = np.array([[0.3, 0.9], [1.2, 0.5], [0.8, 0.71]])
    fig = figures.distance_heatmap(distances, ["ann", "ben", "cat"], ["shot_0", "shot_1"], 0.7, {"shot_0": "ann"})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ann", "ben", "cat"]
    assert len(ax.patches) == int((distances <= 0.7).sum()) == 2
    colorbar = fig.axes[1]
    assert any(np.allclose(line.get_ydata(), 0.7) for line in colorbar.lines)
    assert "0.700" in colorbar.get_ylabel()


def test_pixel_distance_figure_sorts_by_distance():
    image = np.zeros((8, 8, 3), np.float32)
    candidates = [("far", image, True), ("near", image, False)]
    fig = figures.pixel_distances(image, "anchor", candidates, [5.0, 1.0])
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["anchor", "near", "far"]


def test_demo_distances_and_transforms():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 128)), rng.normal(size=(3, 128))
    expected = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    assert np.allclose(demo.distance_matrix(a, b), expected)
    image = rng.uniform(size=(6, 6, 3)).astype(np.float32)
    assert demo.pixel_distance(image, image) == 0.0
    assert np.allclose(demo.shifted(image, 2)[:, 2:], image[:, :-2])
    assert np.allclose(demo.darkened(image, 0.5), image * 0.5)


def test_identification_accuracy_rewards_more_photos_per_person():
    """Each person's first photo is an outlier: enrolled alone it misleads, with others it is outvoted."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(5, 128)) * 10
    encodings, labels = [], []
    for person, centre in enumerate(centres):
        for photo in range(4):
            encodings.append(centre + rng.normal(size=128) * (30 if photo == 0 else 0.1))
            labels.append(person)
    encodings, labels = np.array(encodings), np.array(labels)
    one, _ = demo.identification_accuracy(encodings, labels, 1, threshold=1e9)
    three, admitted = demo.identification_accuracy(encodings, labels, 3, threshold=1e9)
    assert one < three and admitted == three
    assert demo.identification_accuracy(encodings, labels, 3, threshold=0.0)[1] == 0.0


def test_block_summary_adds_up_to_the_parameter_count():
    from inception_blocks import faceRecoModel

    summary = demo.block_summary(faceRecoModel())
    rows = summary.splitlines()[1:-1]
    assert sum(int(row.split()[-1].replace(",", "")) for row in rows) == 3_743_280
    assert rows[0].startswith("input") and rows[-1].startswith("head") and summary.endswith("3,743,280")
