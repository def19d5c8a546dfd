"""Grade a student's Face Recognition notebook: each graded function against public and hidden tests.

How a submission is graded:

1. its graded cells are found by their ``graded:<function>`` tags (a missing cell scores 0);
2. only the definitions of each graded cell run (imports, ``def``, ``class``, assignments;
   calls a student left in the cell do not), in a fresh namespace made from the
   instructor notebook's setup cell plus the *reference* versions of the other graded
   functions, so one function's bugs never cost another function its points;
3. the function's public tests (:mod:`course.public_tests`) and hidden tests
   (:mod:`course.hidden_tests`) run on it, each under a time limit;
4. a function earns its points when all its tests pass, else none (no partial credit,
   so code that only keeps the given lines earns nothing).

By default the student's code runs in a separate Python process (``isolate=True``),
so a crash, a hang or a monkey-patched module cannot reach the grader.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import datetime
import inspect
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course import GRADED_FUNCTIONS
from course.notebook_tools import graded_cells, read, setup_sources

POINTS = {"triplet_loss": 3, "img_to_encoding": 1, "verify": 3, "who_is_it": 3, "select_triplets": 3}
SOURCE_NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "Face_Recognition.ipynb"
TEST_TIME_LIMIT_S = 120
_KEPT_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
               ast.AnnAssign)


class SubmissionError(ValueError):
    """The submission is not a readable notebook."""


@dataclass
class TestResult:
    """One test of one function: ``visibility`` is ``"public"`` or ``"hidden"``."""

    name: str
    visibility: str
    passed: bool
    message: str = ""


@dataclass
class FunctionResult:
    """All tests of one graded function, and its score (all tests pass: full points, else 0)."""

    name: str
    max_score: int
    tests: list[TestResult] = field(default_factory=list)
    error: str = ""  # why the function could not be tested at all

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.tests) and all(test.passed for test in self.tests)

    @property
    def score(self) -> int:
        return self.max_score if self.passed else 0

    def first_problem(self) -> str:
        if self.error:
            return self.error
        failed = [test for test in self.tests if not test.passed]
        if not failed:
            return ""
        first = failed[0]
        return first.message if first.visibility == "public" else f"hidden test {first.name} failed"


@dataclass
class GradeReport:
    """The grade of one notebook."""

    notebook: str
    functions: list[FunctionResult]
    weights_dir: str = ""
    graded_at: str = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat())

    @property
    def score(self) -> int:
        return sum(function.score for function in self.functions)

    @property
    def max_score(self) -> int:
        return sum(function.max_score for function in self.functions)

    def table(self) -> str:
        """A plain-text score table, one row per graded function."""
        rows = [f"{'function':<17}{'tests':>7}{'score':>8}  first problem", "-" * 72]
        for f in self.functions:
            passed = sum(test.passed for test in f.tests)
            problem = f.first_problem().splitlines()[0] if f.first_problem() else ""
            rows.append(f"{f.name:<17}{f'{passed}/{len(f.tests)}':>7}{f'{f.score}/{f.max_score}':>8}  {problem}")
        rows += ["-" * 72, f"{'total':<24}{f'{self.score}/{self.max_score}':>8}"]
        return "\n".join([f"{self.notebook}", *rows])

    def to_json(self) -> dict:
        """Gradescope's autograder ``results.json`` layout, plus every test's details under ``functions``."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "output": f"{self.score}/{self.max_score} points",
            "tests": [{"name": f.name, "score": f.score, "max_score": f.max_score,
                       "status": "passed" if f.passed else "failed", "output": f.first_problem(),
                       "visibility": "visible"} for f in self.functions],
            "functions": [{**asdict(f), "score": f.score, "passed": f.passed} for f in self.functions],
            "notebook": self.notebook,
            "weights_dir": self.weights_dir,
            "graded_at": self.graded_at,
        }

    def to_gradescope(self) -> dict:
        """Gradescope's ``results.json``: the functions' points (visible), then every hidden test (0 points, hidden).

        The hidden tests' entries tell the instructor which hidden test failed; students see only
        the function-level entries (a failing hidden test says "hidden test NAME failed" there).
        """
        hidden = [{"name": f"{f.name}: hidden test {test.name}", "score": 0, "max_score": 0,
                   "status": "passed" if test.passed else "failed", "output": test.message,
                   "visibility": "hidden"}
                  for f in self.functions for test in f.tests if test.visibility == "hidden"]
        visible = self.to_json()["tests"]
        return {"score": self.score, "max_score": self.max_score, "output": f"{self.score}/{self.max_score} points",
                "stdout_visibility": "hidden", "tests": visible + hidden}


# ---------------------------------------------------------------------------------------------- in process


def definitions_only(source: str) -> str:
    """The imports, definitions and assignments of a cell's code (calls and other statements dropped).

    Raises:
        SyntaxError: the cell does not parse.
    """
    tree = ast.parse(source)
    tree.body = [node for node in tree.body if isinstance(node, _KEPT_NODES)]
    return ast.unparse(tree)


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise ``TimeoutError`` in the main thread after ``seconds`` (no limit where SIGALRM is unavailable)."""
    if not hasattr(signal, "setitimer") or seconds <= 0:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"took longer than {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run_test(test, function, model, visibility: str, time_limit: float) -> TestResult:
    args = (function, model) if "model" in inspect.signature(test).parameters else (function,)
    try:
        with _time_limit(time_limit), contextlib.redirect_stdout(io.StringIO()):
            test(*args)
    except AssertionError as error:
        return TestResult(test.__name__, visibility, False, str(error))
    except (Exception, SystemExit) as error:  # noqa: BLE001 (student code may raise anything)
        return TestResult(test.__name__, visibility, False, f"{type(error).__name__}: {error}")
    return TestResult(test.__name__, visibility, True)


def _namespace(setup_code: list[str], name: str) -> dict:
    """The notebook's setup-cell names plus the reference versions of the other graded functions."""
    from course import solutions

    namespace = {"__name__": "__student__", "__builtins__": builtins}
    with contextlib.redirect_stdout(io.StringIO()):
        for code in setup_code:
            exec(compile(code, "<setup cell>", "exec"), namespace)  # noqa: S102 (the instructor's own cell)
    for other in GRADED_FUNCTIONS:
        if other != name:
            namespace[other] = getattr(solutions, other)
    return namespace


def grade_function(name: str, source: str | None, setup_code: list[str], model,
                   time_limit: float = TEST_TIME_LIMIT_S) -> FunctionResult:
    """Load one graded cell's ``source`` and run the function's public and hidden tests on it."""
    result = FunctionResult(name, POINTS[name])
    if source is None:
        result.error = f"the graded cell of {name} is missing (was it deleted?)"
        return result
    namespace = _namespace(setup_code, name)
    try:
        code = compile(definitions_only(source), f"<graded cell {name}>", "exec")
        with _time_limit(time_limit), contextlib.redirect_stdout(io.StringIO()):
            exec(code, namespace)  # noqa: S102 (grading runs the student's code by design)
    except SyntaxError as error:
        result.error = f"the graded cell of {name} has a syntax error: {error}"
        return result
    except (Exception, SystemExit) as error:  # noqa: BLE001
        result.error = f"running the graded cell of {name} raised {type(error).__name__}: {error}"
        return result
    function = namespace.get(name)
    if not callable(function):
        result.error = f"the graded cell does not define a function named {name}"
        return result
    from course import hidden_tests, public_tests

    for visibility, module in (("public", public_tests), ("hidden", hidden_tests)):
        for test in module.TESTS[name]:
            result.tests.append(_run_test(test, function, model, visibility, time_limit))
    return result


def grade_sources(sources: dict[str, str | None], setup_code: list[str], model=None) -> list[FunctionResult]:
    """Grade every graded function from its cell's source (None: the cell is missing)."""
    from course import solutions

    model = model if model is not None else solutions.load_model()
    return [grade_function(name, sources.get(name), setup_code, model) for name in GRADED_FUNCTIONS]


def submission_sources(path: str | Path) -> dict[str, str]:
    """The source of each graded cell of a submitted notebook, by function name.

    Raises:
        SubmissionError: the file is missing or not a Jupyter notebook.
    """
    try:
        nb = read(path)
    except FileNotFoundError as error:
        raise SubmissionError(f"submission {path} does not exist") from error
    except Exception as error:  # noqa: BLE001 (nbformat raises several types for bad files)
        raise SubmissionError(f"{path} is not a readable Jupyter notebook ({type(error).__name__}: {error})") \
            from error
    return {name: cell.source for name, cell in graded_cells(nb).items()}


# ------------------------------------------------------------------------------------------- isolated process


def grade_notebook(path: str | Path, source_notebook: str | Path = SOURCE_NOTEBOOK, isolate: bool = True,
                   timeout: float = 900, model=None) -> GradeReport:
    """Grade a submitted notebook.

    Args:
        path: the student's ``.ipynb``.
        source_notebook: the instructor's solution notebook (its setup cell defines the namespace).
        isolate: run the student's code in a child process (recommended); else in this one.
        timeout: seconds the child process may run in all; unfinished functions score 0.
        model: a loaded FaceRecoModel to reuse (in-process only).

    Raises:
        SubmissionError: the submission is not a readable notebook.
    """
    sources = submission_sources(path)
    setup_code = setup_sources(read(source_notebook))
    weights_dir = os.environ.get("FACEREC_WEIGHTS", "weights/")
    if not isolate:
        return GradeReport(str(path), grade_sources(sources, setup_code, model), weights_dir)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        request, result = Path(tmp) / "request.json", Path(tmp) / "result.json"
        request.write_text(json.dumps({"sources": sources, "setup_code": setup_code}))
        command = [sys.executable, "-m", "course", "grade-worker", str(request), str(result)]
        try:
            process = subprocess.run(command, timeout=timeout, check=False, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
            why = f"the grading process stopped (exit status {process.returncode}): " + \
                (process.stderr.strip().splitlines() or ["no message"])[-1]
        except subprocess.TimeoutExpired:
            why = f"grading took longer than {timeout:.0f} s in all"
        done = json.loads(result.read_text()) if result.exists() else []
    functions = [_from_dict(item) for item in done]
    graded = {function.name for function in functions}
    for name in GRADED_FUNCTIONS:
        if name not in graded:
            functions.append(FunctionResult(name, POINTS[name], error=f"not graded: {why}"))
    order = {name: i for i, name in enumerate(GRADED_FUNCTIONS)}
    return GradeReport(str(path), sorted(functions, key=lambda f: order[f.name]), weights_dir)


def _from_dict(item: dict) -> FunctionResult:
    tests = [TestResult(**test) for test in item["tests"]]
    return FunctionResult(item["name"], item["max_score"], tests, item["error"])


def worker(request_path: str, result_path: str) -> None:
    """Child-process entry: grade the request's sources, rewriting ``result_path`` after each function."""
    from course import solutions

    request = json.loads(Path(request_path).read_text())
    model = solutions.load_model()
    done = []
    for name in GRADED_FUNCTIONS:
        result = grade_function(name, request["sources"].get(name), request["setup_code"], model)
        done.append(asdict(result))
        tmp = Path(result_path).with_suffix(".tmp")
        tmp.write_text(json.dumps(done))
        os.replace(tmp, result_path)
