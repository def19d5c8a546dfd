"""Instructor commands: ``python -m course generate-student`` and ``python -m course grade``.

Run from the repository root::

    python -m course generate-student                      # -> build/student/Face_Recognition.ipynb
    python -m course grade SUBMISSION.ipynb --json OUT.json  # score table on stdout, JSON for the LMS
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
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2) + "\n")
        print(f"wrote {args.json}")
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
    grade.add_argument("--source", default=SOURCE_NOTEBOOK, help="solution notebook (default: %(default)s)")
    grade.add_argument("--timeout", type=float, default=900, help="seconds for the whole grading (default 900)")
    grade.add_argument("--in-process", action="store_true", help="run the student's code in this process")
    grade.set_defaults(run=_grade)

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
