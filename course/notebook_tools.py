"""Notebook machinery: cell roles, the student version, execution, and the Expected output cells.

Cell roles live in standard Jupyter cell metadata, so JupyterLab and Notebook 7 honour them:

* graded cells: tags ``graded`` and ``graded:<function>``; ``deletable: false``, editable;
* the setup cell (imports): tag ``setup``; the grader runs the instructor's copy of it;
* Expected output cells: markdown, tag ``expected-output``, and
  ``metadata.course.expected_output_of`` = the id of the code cell whose output they show;
* ``instructor-only`` cells are dropped from the student version;
* every other cell: ``editable: false``, ``deletable: false``.

In graded cells, the code between ``### START CODE HERE`` and ``### END CODE HERE``
is the student's part. :func:`studentize` replaces it line by line: assignments
become ``name = None``, ``if``/``elif``/``while`` conditions and ``for`` iterables
become ``None``, ``return x`` becomes ``return None``, a method call statement
``x.append(y)`` becomes ``x.append(None)``; comments, ``else:`` and other statements
(the course's ``print`` messages) stay.
"""

from __future__ import annotations

import copy
import io
import re
import tokenize
from pathlib import Path

import nbformat

from course import GRADED_FUNCTIONS

START, END = "### START CODE HERE", "### END CODE HERE"
GRADED_TAG, SETUP_TAG, EXPECTED_TAG, INSTRUCTOR_TAG = "graded", "setup", "expected-output", "instructor-only"
NB_VERSION = 4

_BLOCK_OPENER = re.compile(r"^(?P<indent>\s*)(?P<keyword>if|elif|while)\b.*:\s*(#.*)?$")
_FOR = re.compile(r"^(?P<indent>\s*)for\s+(?P<targets>.+?)\s+in\s+.+:\s*(#.*)?$")
_RETURN = re.compile(r"^(?P<indent>\s*)return\b.*$")
_ASSIGN = re.compile(r"^(?P<indent>\s*)(?P<targets>[A-Za-z_][\w.]*(\[[^\]]*\])?(\s*,\s*[A-Za-z_][\w.]*)*)"
                     r"\s*(?:[-+*/%@&|^]|//|\*\*)?=(?!=)")
_METHOD_CALL = re.compile(r"^(?P<indent>\s*)(?P<method>[A-Za-z_]\w*\.\w+)\(.*\)\s*(#.*)?$")
_FENCE = re.compile(r"```[a-z]*\n(?P<body>.*?)\n?```", re.DOTALL)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


class NotebookFormatError(ValueError):
    """A notebook lacks a graded cell, or a graded cell's START/END markers are malformed."""


# ------------------------------------------------------------------------------------------------ cell roles


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def graded_name(cell) -> str | None:
    """The function a graded cell defines (from its ``graded:<name>`` tag), else None."""
    for tag in tags(cell):
        if tag.startswith(GRADED_TAG + ":"):
            return tag.split(":", 1)[1]
    return None


def graded_cells(nb) -> dict[str, nbformat.NotebookNode]:
    """The first graded cell of each function, by function name."""
    cells = {}
    for cell in nb.cells:
        name = graded_name(cell)
        if name and name not in cells:
            cells[name] = cell
    return cells


def setup_sources(nb) -> list[str]:
    """The code of the cells tagged ``setup`` (the notebook's imports), in order."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code" and SETUP_TAG in tags(cell)]


def lock(cell) -> None:
    """Set a cell's Jupyter metadata: graded cells editable, every role-bearing cell undeletable."""
    metadata = cell.setdefault("metadata", {})
    metadata["deletable"] = False
    metadata["editable"] = graded_name(cell) is not None


# -------------------------------------------------------------------------------------------- student version


def _continuation_lines(source: str) -> set[int]:
    """1-based numbers of the physical lines of statements that span several lines."""
    lines: set[int] = set()
    start = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if start is None:
                start = token.start[0]
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if token.end[0] > start:
                    lines.update(range(start, token.end[0] + 1))
                start = None
    except (tokenize.TokenError, IndentationError) as error:
        raise NotebookFormatError(f"cannot read a graded cell: {error}") from error
    return lines


def _placeholder(line: str) -> str:
    """The student's version of one solution line (see the module docstring)."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return line
    if match := _FOR.match(line):
        return f"{match['indent']}for {match['targets']} in None:"
    if match := _BLOCK_OPENER.match(line):
        return f"{match['indent']}{match['keyword']} None:"
    if match := _RETURN.match(line):
        return f"{match['indent']}return None"
    if match := _METHOD_CALL.match(line):
        return f"{match['indent']}{match['method']}(None)"
    if match := _ASSIGN.match(line):
        targets = [target.strip() for target in match["targets"].split(",")]
        return f"{match['indent']}{', '.join(targets)} = {', '.join(['None'] * len(targets))}"
    return line


def studentize(source: str) -> str:
    """Replace the solution between START/END CODE HERE markers with ``None`` placeholders.

    Raises:
        NotebookFormatError: unbalanced or nested markers, a statement spanning
            several lines inside a block, or a result that does not compile.
    """
    continued = _continuation_lines(source)
    output, inside = [], False
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker.startswith(START) or marker.startswith(END):
            opening = marker.startswith(START)
            if opening == inside:
                raise NotebookFormatError(f"line {number}: {'nested' if inside else 'unmatched'} {marker!r}")
            inside = opening
            output.append(line)
        elif inside and number in continued:
            raise NotebookFormatError(f"line {number}: keep each solution statement on one line inside "
                                      "START/END CODE HERE blocks")
        else:
            output.append(_placeholder(line) if inside else line)
    if inside:
        raise NotebookFormatError(f"a {START!r} block is not closed")
    student = "\n".join(output)
    try:
        compile(student, "<student cell>", "exec")
    except SyntaxError as error:
        raise NotebookFormatError(f"the student version does not compile: {error}\n{student}") from error
    return student


def strip_outputs(nb) -> None:
    """Remove every code cell's outputs, execution count and timings, and saved widget state (in place)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def make_student_notebook(nb) -> nbformat.NotebookNode:
    """The student version of a solution notebook (a new notebook; the input is untouched).

    Graded cells get :func:`studentize`, ``instructor-only`` cells are dropped,
    outputs are stripped and every cell is locked (:func:`lock`).

    Raises:
        NotebookFormatError: a graded function has no cell, or a graded cell is malformed.
    """
    missing = [name for name in GRADED_FUNCTIONS if name not in graded_cells(nb)]
    if missing:
        raise NotebookFormatError(f"the notebook has no graded cell for {', '.join(missing)}")
    student = copy.deepcopy(nb)
    student.cells = [cell for cell in student.cells if INSTRUCTOR_TAG not in tags(cell)]
    for cell in student.cells:
        if graded_name(cell):
            cell.source = studentize(cell.source)
        lock(cell)
    strip_outputs(student)
    student.metadata.setdefault("course", {})["version"] = "student"
    return student


def read(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook (format 4) from ``path``."""
    return nbformat.read(str(path), as_version=NB_VERSION)


def write(nb, path: str | Path) -> Path:
    """Validate and write a notebook, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path


# ------------------------------------------------------------------------------------- running, expected output


def execute(nb, workdir: str | Path, timeout: int = 300, allow_errors: bool = False,
            record_timing: bool = False) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` (in place) in a fresh ``python3`` kernel started in ``workdir``.

    With ``record_timing`` each code cell's ``metadata.execution`` gets nbclient's timestamps.
    """
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            record_timing=record_timing, store_widget_state=False,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return nb


def output_text(cell) -> str:
    """What a code cell showed as text: its stdout and its result's ``text/plain``, in order."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type == "execute_result":
            parts.append(output.data.get("text/plain", "") + "\n")
    return "".join(parts).strip("\n")


def expected_pairs(nb) -> list[tuple[nbformat.NotebookNode, nbformat.NotebookNode]]:
    """``(code cell, Expected output cell)`` pairs, matched by ``metadata.course.expected_output_of``."""
    by_id = {cell.get("id"): cell for cell in nb.cells}
    pairs = []
    for cell in nb.cells:
        if EXPECTED_TAG in tags(cell):
            source_id = cell.metadata.get("course", {}).get("expected_output_of")
            if source_id not in by_id:
                raise NotebookFormatError(f"Expected output cell {cell.get('id')} points to unknown cell {source_id}")
            pairs.append((by_id[source_id], cell))
    return pairs


def expected_text(cell) -> str:
    """The text inside an Expected output cell's code fence."""
    match = _FENCE.search(cell.source)
    if not match:
        raise NotebookFormatError(f"Expected output cell {cell.get('id')} has no ``` block")
    return match["body"].strip("\n")


def expected_markdown(text: str) -> str:
    """The markdown of an Expected output cell showing ``text``."""
    return f"**Expected output**\n\n```text\n{text}\n```"


def fill_expected(nb) -> None:
    """Write each paired code cell's output into its Expected output cell (after :func:`execute`)."""
    for code, expected in expected_pairs(nb):
        expected.source = expected_markdown(output_text(code))


def _tolerance(token: str) -> float:
    """One unit of the last printed digit of a decimal number (rounding may differ by that); 0 for integers."""
    if "." not in token:
        return 0.0
    mantissa = re.split(r"[eE]", token)[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(re.split(r"[eE]", token)[1]) if re.search(r"[eE]", token) else 0
    return 1.01 * 10.0 ** (exponent - decimals)


def same_output(actual: str, expected: str, tolerance: float = 0.0) -> bool:
    """True when texts match, numbers allowed to differ by one unit of their last printed digit.

    ``tolerance``: a larger absolute difference to allow (an Expected output's
    ``metadata.course.tolerance``, for results of training, which rounding on another CPU can move).
    """
    split_actual, split_expected = _NUMBER.split(actual), _NUMBER.split(expected)
    if [" ".join(s.split()) for s in split_actual] != [" ".join(s.split()) for s in split_expected]:
        return False
    numbers_actual, numbers_expected = _NUMBER.findall(actual), _NUMBER.findall(expected)
    return all(abs(float(a) - float(e)) <= max(_tolerance(a), _tolerance(e), tolerance)
               for a, e in zip(numbers_actual, numbers_expected))


def output_mismatches(nb) -> list[str]:
    """After :func:`execute`: a description of every code cell whose output differs from its Expected output."""
    problems = []
    for code, expected in expected_pairs(nb):
        actual, wanted = output_text(code), expected_text(expected)
        if not same_output(actual, wanted, expected.metadata.get("course", {}).get("tolerance", 0.0)):
            problems.append(f"cell {code.get('id')}:\n--- expected\n{wanted}\n--- got\n{actual}")
    return problems
