"""Instructor commands: ``python -m course generate-student``, ``grade`` and ``gradescope``.

Run from the repository root::

    python -m course generate-student                      # -> build/student/Face_Recognition.ipynb
    python -m course grade SUBMISSION.ipynb --json OUT.json  # score table on stdout, JSON for the LMS
    python -m course gradescope --out autograder.zip       # the bundle Gradescope's autograder takes
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course.grader import SOURCE_NOTEBOOK, SubmissionError, grade_notebook, worker
from course.notebook_tools import NotebookFormatError, make_student_notebook, read, write

STUDENT_NOTEBOOK = SOURCE_NOTEBOOK.parent.parent / "build" / "student" / SOURCE_NOTEBOOK.name


def _generate(args: argparse.Namespace) -> int:
    student = make_student_notebook(read(args.source))
    print(f"wrote {write(student, args.out)}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    report = grade_notebook(args.submission, args.source, isolate=not args.in_process, timeout=args.timeout)
    print(report.table())
    for path, payload in ((args.json, report.to_json), (args.gradescope, report.to_gradescope)):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(payload(), indent=2) + "\n")
            print(f"wrote {path}")
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from course.gradescope import build_bundle

    print(f"wrote {build_bundle(args.out, args.weights)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate-student", help="write the student notebook from the solution notebook")
    generate.add_argument("--source", default=SOURCE_NOTEBOOK, help="solution notebook (default: %(default)s)")
    generate.add_argument("--out", default=STUDENT_NOTEBOOK, help="student notebook to write (default: %(default)s)")
    generate.set_defaults(run=_generate)

    grade = commands.add_parser("grade", help="grade a submitted student notebook")
    grade.add_argument("submission", help="the student's .ipynb")
    grade.add_argument("--json", help="also write the result as JSON (Gradescope results.json layout)")
    grade.add_argument("--gradescope", help="also write Gradescope's results.json (hidden tests marked hidden)")
    grade.add_argument("--source", default=SOURCE_NOTEBOOK, help="solution notebook (default: %(default)s)")
    grade.add_argument("--timeout", type=float, default=900, help="seconds for the whole grading (default 900)")
    grade.add_argument("--in-process", action="store_true", help="run the student's code in this process")
    grade.set_defaults(run=_grade)

    bundle = commands.add_parser("gradescope", help="write the autograder zip Gradescope takes")
    bundle.add_argument("--out", default="autograder.zip", help="the zip to write (default: %(default)s)")
    bundle.add_argument("--weights", default=None, help="weights folder (default: $FACEREC_WEIGHTS or weights/)")
    bundle.set_defaults(run=_gradescope)

    hidden = commands.add_parser("grade-worker")  # internal: the child process of `grade`
    hidden.add_argument("request")
    hidden.add_argument("result")
    hidden.set_defaults(run=lambda args: worker(args.request, args.result) or 0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (SubmissionError, NotebookFormatError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
