"""The photo library's commands: ``index``, ``cluster``, ``people --groups``, ``name``, ``merge``, ``move``,
``not``, ``find``, ``who`` (registered on ``facerec``'s parser by :func:`add_commands`).

JSON shapes other tools rely on (kept exactly; more keys may be added):

* ``cluster --json``: ``{"groups": [{"group": ID, "faces": [{"photo": PATH, "box": [l, t, r, b]}, ...]}, ...]}``,
  the unnamed groups of two or more faces, biggest first (each face also has its ``face`` id, each group
  its ``maybe`` name or null).
* ``find NAME --json``: ``[{"photo": PATH, "box": [...], "distance": D}, ...]``, closest first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facerec.library.grouping import DEFAULT_METHOD, DEFAULT_THRESHOLD, METHODS
from facerec.library.people import MATCH_THRESHOLD


def _cli():
    from facerec import cli

    return cli


def cmd_index(args: argparse.Namespace) -> int:
    from facerec.library.index import index

    cli = _cli()
    runner = None
    if args.cluster:
        from facerec.library.distributed import dask_runner

        runner = dask_runner(args.cluster)
    with cli._open_db(args, create=True) as db:
        report = index(db, args.folders, workers=args.workers, detector=args.detector, progress=cli._progress(),
                       runner=runner)
    lines = [f"{report.photos} photos: {report.encoded} encoded now ({report.faces} faces), {report.unchanged} "
             f"unchanged, {report.duplicates} duplicates of photos already encoded, {report.removed} removed"]
    lines += [f"not readable (tried again next time): {path}: {reason}" for path, reason in report.failed]
    cli._emit(args, report.to_json(), lines)
    return 2 if report.failed else 0


def _group_lines(groups: list[dict]) -> list[str]:
    cli = _cli()
    rows = [[str(g["group"]), str(len(g["faces"])), g["maybe"] and f"maybe {g['maybe']} ({g['maybe_distance']:.3f})"
             or "", ", ".join(f"{f['face']}:{Path(f['photo']).name}" for f in g["faces"][:4])
             + (" ..." if len(g["faces"]) > 4 else "")] for g in groups]
    return cli._table(["group", "faces", "suggestion", "faces (id:photo)"], rows)


def cmd_cluster(args: argparse.Namespace) -> int:
    from facerec.library import people

    with _cli()._open_db(args) as db:
        counts = people.group_faces(db, args.method, args.threshold, full=args.full)
        groups = people.groups(db)
    summary = (f"{counts['joined']} faces joined existing groups, {counts['grouped']} formed new groups, "
               f"{counts['alone']} alone; {len(groups)} unnamed groups of 2 or more")
    _cli()._emit(args, {"groups": groups}, _group_lines(groups) + [summary])
    return 0


def show_groups(args: argparse.Namespace) -> int:
    """``facerec people --groups``: the unnamed groups (without regrouping)."""
    from facerec.library import people

    with _cli()._open_db(args) as db:
        groups = people.groups(db)
    _cli()._emit(args, {"groups": groups}, _group_lines(groups) + [f"{len(groups)} unnamed groups"])
    return 0


def cmd_name(args: argparse.Namespace) -> int:
    from facerec.library import people

    with _cli()._open_db(args) as db:
        result = people.name_group(db, args.group, args.name)
    _cli()._emit(args, result, [f"named {result['faces']} faces of group {args.group} {result['name']} "
                                f"({result['enrolled']} enrolled)"
                                + (f" ({result['left_out']} left out: not {result['name']})"
                                   if result["left_out"] else "")])
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from facerec.library import people

    with _cli()._open_db(args) as db:
        moved = people.merge(db, args.groups[0], args.groups[1:])
    _cli()._emit(args, {"group": args.groups[0], "moved": moved}, [f"{moved} faces moved into group {args.groups[0]}"])
    return 0


def cmd_move(args: argparse.Namespace) -> int:
    from facerec.library import people

    group = None if args.group.lower() == "none" else _group_id(args.group)
    with _cli()._open_db(args) as db:
        people.move(db, args.face, group)
    _cli()._emit(args, {"face": args.face, "group": group},
                 [f"face {args.face} is now " + (f"in group {group}" if group is not None else "in no group")])
    return 0


def cmd_not(args: argparse.Namespace) -> int:
    from facerec.library import people

    with _cli()._open_db(args) as db:
        people.not_person(db, args.face, args.name)
    _cli()._emit(args, {"face": args.face, "not": args.name}, [f"face {args.face} is not {args.name}: never "
                                                               "proposed as them again"])
    return 0


def cmd_find(args: argparse.Namespace) -> int:
    from facerec.library import people

    with _cli()._open_db(args) as db:
        hits = people.find(db, args.name, args.threshold)
    cli = _cli()
    cli._emit(args, hits, cli._table(["photo", "box", "distance"], [[h["photo"], ",".join(map(str, h["box"])),
                                                                    f"{h['distance']:.3f}"] for h in hits])
              + [f"{len(hits)} photos"])
    return 0


def cmd_who(args: argparse.Namespace) -> int:
    from facerec.library import people

    with _cli()._open_db(args) as db:
        found = people.who(db, args.photo, args.threshold)
    cli = _cli()
    cli._emit(args, found, cli._table(["face", "box", "name", "distance", "group"], [
        [str(f["face"]), ",".join(map(str, f["box"])), f["name"] or "unknown",
         "" if f["distance"] is None else f"{f['distance']:.3f}", str(f["group"] or "")] for f in found]))
    return 0


def _group_id(text: str) -> int:
    from facerec.exceptions import InvalidArgument

    if not text.isdigit() or int(text) < 1:
        raise InvalidArgument(f"a group is a positive number or 'none', got {text!r}")
    return int(text)


def add_commands(command, integer, number) -> None:
    """Register the library commands with ``command(name, handler, help)`` (``facerec.cli.build_parser``'s)."""
    cli = _cli()
    sub = command("index", cmd_index, "index every face of every photo of some folders (incremental, resumable)")
    sub.add_argument("folders", nargs="+", metavar="FOLDER", help="folders of photos (searched recursively)")
    sub.add_argument("--workers", type=integer(1, 1024), default=None,
                     help="local encoding processes (default: one a core)")
    sub.add_argument("--cluster", default=None, metavar="ADDRESS",
                     help="encode on this Dask distributed scheduler (tcp://host:8786); workers read the photos "
                          "by path from shared storage, this process writes the database")
    cli._detector_option(sub)

    sub = command("cluster", cmd_cluster, "group the faces nobody has named into people (new faces join "
                  "existing groups); lists the groups of 2 or more, biggest first")
    sub.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS,
                     help=f"clustering algorithm (default {DEFAULT_METHOD}; MODEL_CARD.md 'Photo library')")
    sub.add_argument("--threshold", type=number(0.01, 4), default=DEFAULT_THRESHOLD,
                     help=f"L2 distance that links two faces (default {DEFAULT_THRESHOLD})")
    sub.add_argument("--full", action="store_true", help="regroup every unnamed face from scratch")

    sub = command("name", cmd_name, "name a group: its faces become that person's (usable at the door)")
    sub.add_argument("group", type=integer(1, 2**62), help="the group (facerec cluster lists them)")
    sub.add_argument("name", help="the person's name")

    sub = command("merge", cmd_merge, "merge groups into the first one")
    sub.add_argument("groups", nargs="+", type=integer(1, 2**62), metavar="GROUP")

    sub = command("move", cmd_move, "move a face into a group ('none': out of its group)")
    sub.add_argument("face", type=integer(1, 2**62), help="the face id (facerec cluster --json lists them)")
    sub.add_argument("group", help="a group number, or none")

    sub = command("not", cmd_not, "this face is not this person: never proposed as them again (unnamed if it was)")
    sub.add_argument("face", type=integer(1, 2**62), help="the face id")
    sub.add_argument("name", help="the person's name")

    for name, handler, help_text, what in (
            ("find", cmd_find, "the photos that contain this person, with boxes", "name"),
            ("who", cmd_who, "who is in this indexed photo", "photo")):
        sub = command(name, handler, help_text)
        sub.add_argument(what)
        sub.add_argument("--threshold", type=number(0.01, 4), default=MATCH_THRESHOLD,
                         help=f"L2 distance to an enrolled face to count as them (default {MATCH_THRESHOLD})")
