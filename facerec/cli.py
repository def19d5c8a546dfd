"""The ``facerec`` command (also ``python -m facerec``).

Exit codes: 0 success; 1 a negative answer (``verify``: not that person) or a
system error (disk, permissions); 2 bad usage or bad input (every facerec
error: no face, unknown name, wrong database, ...); 130 interrupted. Errors are
one line on stderr; results go to stdout (``--json`` for scripts), progress bars
to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facerec.exceptions import (
    DatabaseGone,
    DatabaseNotWritable,
    FaceNotFound,
    FaceRecError,
    ImageNotReadable,
    ImageTooLarge,
    InvalidArgument,
    SourceUnavailable,
)
from facerec.names import printable_name

DEFAULT_DB = "faces.sqlite"
EPILOG = ("exit codes: 0 success; 1 negative answer (verify) or system error; 2 bad usage or input; "
          "130 interrupted.\nexamples:\n  facerec --db faces.sqlite enroll younes younes1.jpg younes2.jpg\n"
          "  facerec --db faces.sqlite identify --json door.jpg\n  facerec demo")
DELEGATED = ("train", "evaluate")  # subcommands whose options belong to the lead's modules


def _db_path(args: argparse.Namespace) -> Path | str:
    """``--db``, else ``$FACEREC_DB``, else ``faces.sqlite`` in the working folder: a path, or a
    ``postgresql://`` URL kept as a string (print it with :func:`_db_label`, which hides its password)."""
    from facerec.stores.base import location_of

    return location_of(args.db or os.environ.get("FACEREC_DB") or DEFAULT_DB)


def _db_label(args: argparse.Namespace) -> str:
    """The database's location to print: its path, or its URL without password (:func:`facerec.stores.base.redact`)."""
    from facerec.stores.base import redact

    return redact(_db_path(args))


@contextmanager
def _quiet_native_stderr(enabled: bool) -> Iterator[None]:
    """Silence C-level writes to stderr (TensorFlow's start-up banners) while loading the model."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _open_db(args: argparse.Namespace, create: bool = False):
    """The database of ``--db``, checked against ``--encoder`` (a new one is created with it)."""
    from facerec.database import FaceDatabase

    return FaceDatabase(_db_path(args), create=create, encoder=args.encoder)


def _encoder(args: argparse.Namespace, db=None):
    """The encoder to use: the database's own (``--encoder`` only chooses it for a new database).

    nn4 with ``--runtime tensorflow`` imports TensorFlow here, not before; its start-up messages are
    silenced unless ``--verbose``.
    """
    from facerec.encoders import load_encoder

    name = (db.encoder_name if db is not None else None) or args.encoder
    tensorflow = (args.runtime or os.environ.get("FACEREC_RUNTIME")) == "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_native_stderr(tensorflow and not args.verbose):
        return load_encoder(name, args.weights, args.precision, args.runtime)


def _decision(args: argparse.Namespace) -> dict:
    """The threshold options as keyword arguments of the API (at most one is set)."""
    return {"threshold": args.threshold, "operating_point": args.operating_point, "far": args.far,
            "false_alarm": args.false_alarm}


def _progress() -> bool:
    """Progress bars only when stderr is a terminal."""
    return sys.stderr.isatty()


def _emit(args: argparse.Namespace, payload, lines: list[str]) -> None:
    """Print ``payload`` as JSON with ``--json``, else the human-readable lines."""
    if args.json:
        print(json.dumps(payload, indent=None))
    else:
        for line in lines:
            print(line)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]


def _expand_images(items: list[str]) -> list[Path]:
    """Image arguments, with folders replaced by the images they hold (sorted)."""
    from facerec.door import image_files

    paths = []
    for item in items:
        path = Path(item)
        paths.extend(image_files(path) if path.is_dir() else [path])
    if not paths:
        raise ImageNotReadable(f"no images found in {', '.join(items)}")
    return paths


# -- commands ------------------------------------------------------------------------


def _quiet_opencv() -> None:
    """Silence OpenCV's and FFmpeg's native log lines (errors reach the user as one facerec line instead)."""
    import cv2

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read when FFmpeg first opens a file
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def cmd_enroll(args: argparse.Namespace) -> int:
    from facerec.image import check_image_path
    from facerec.names import check_name

    args.name = check_name(args.name)  # a bad name fails before any photo is read
    images = _expand_images(args.images)
    if args.strict:  # a typo fails before the model loads
        images = [check_image_path(image) for image in images]
    # A new database file is created by the enrollment's own transaction: a failure or Ctrl-C before it leaves
    # no file, and nothing is ever deleted (another process may have written to the file meanwhile).
    with _open_db(args, create=True) as db:
        encoder = _encoder(args, db)
        result = db.enroll(args.name, images, encoder=encoder, skip_bad=not args.strict, progress=_progress(),
                           detector=args.detector)
        total = len(db.encodings(result.name)[0])
    lines = [f"{source}: enrolled" for source in result.added]
    lines += [f"{source}: already enrolled, skipped" for source in result.duplicates]
    lines += [f"{source}: skipped, {reason}" for source, reason in result.failed]
    lines.append(f"enrolled {len(result.added)} of {len(images)} photo(s) of {printable_name(result.name)} into "
                 f"{_db_label(args)} "
                 f"({total} in all, {encoder.name} encoder)")
    _emit(args, {"name": result.name, "added": result.added, "duplicates": result.duplicates,
                 "failed": [{"image": s, "reason": r} for s, r in result.failed], "photos": total,
                 "encoder": encoder.name}, lines)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from facerec.api import verify
    from facerec.image import check_image_path

    check_image_path(args.image)
    with _open_db(args) as db:  # a bad database fails before the model loads
        encoder = _encoder(args, db)
        result = verify(args.image, args.name, db, encoder=encoder, method=args.method, detector=args.detector,
                        **_decision(args))
    verdict = f"it is {result.name}" if result.match else f"it is not {result.name}"
    if args.method == "l2":
        why = (f"distance {result.distance:.3f} {'<=' if result.match else '>'} threshold {result.threshold:.3f}, "
               f"{result.operating_point}")
    else:
        sign = ">=" if result.match else "<"
        why = f"{args.method}: p(same) {result.probability:.3f} {sign} {result.threshold:.2f}"
        why += f"; distance {result.distance:.3f}"
    _emit(args, result.to_json(), [f"{args.image}: {verdict} ({why})"] + _promise_lines(result))
    return 0 if result.match else 1


def _promise_lines(result) -> list[str]:
    """The default decision's cohort rule and its measured promise, in words ([] when it was not applied)."""
    if result.cohort_score is None:
        return []
    lines = [f"cohort score {result.cohort_score:.3f} (let in at most {result.cohort_limit:.3f})"]
    return lines + ([result.promise["text"]] if result.promise else [])


def _progress_bar(items: list, **options):
    """``items`` wrapped in a tqdm bar when there are several (tqdm is not even imported for one)."""
    if len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, disable=None, **options)


def cmd_identify(args: argparse.Namespace) -> int:
    from facerec.api import identify

    images = _expand_images(args.images)
    results, failed = [], 0
    with _open_db(args) as db:
        encoder = _encoder(args, db)
        for image in _progress_bar(images, desc="identifying", unit="image"):
            try:
                results.extend(identify(image, db, args.k, encoder=encoder, backend=args.backend,
                                        detector=args.detector, **_decision(args)))
            except (FaceNotFound, ImageNotReadable, ImageTooLarge) as error:
                print(f"facerec: error: {error}", file=sys.stderr)
                failed += 1
    rows = [[r.image, ",".join(map(str, r.box)), r.identity or "unknown", f"{r.distance:.3f}",
             " ".join(f"{m.name}:{m.distance:.3f}" for m in r.candidates)] for r in results]
    footer = [f"threshold {results[0].threshold:.3f} ({results[0].operating_point}, {encoder.name} encoder)"
              ] + _promise_lines(results[0])[1:] if results else []
    _emit(args, [r.to_json() for r in results],
          _table(["image", "box", "identity", "distance", "closest"], rows) + footer)
    return 2 if failed else 0


def cmd_people(args: argparse.Namespace) -> int:
    if getattr(args, "groups", False):
        from facerec.library.commands import show_groups

        return show_groups(args)
    with _open_db(args) as db:
        people = db.people()
    payload = [{"name": p.name, "photos": p.photos, "created": p.created} for p in people]
    lines = _table(["name", "photos", "enrolled"], [[printable_name(p.name), str(p.photos), p.created]
                                                     for p in people])
    _emit(args, payload, lines + [f"{len(people)} people, {sum(p.photos for p in people)} photos"])
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from facerec.names import normalise_name

    name = normalise_name(args.name)
    with _open_db(args) as db:
        removed = db.remove(name)
    _emit(args, {"name": name, "removed": removed},
          [f"removed {printable_name(name)} ({removed} photo(s)); their picture and door-log rows too"])
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from facerec.stores.base import location_of
    from facerec.stores.dump import migrate

    report = migrate(location_of(args.source), location_of(args.target))
    lines = [f"{table}: {entry['rows']} row(s), sha256 {entry['sha256'][:16]}" for table, entry in
             report["tables"].items()]
    if report["door_names_dropped"]:
        lines.append(f"{report['door_names_dropped']} door-log row(s) lost their door's name (SQLite keeps none)")
    _emit(args, report, lines + [f"copied {report['from']} into {report['to']}; counts and fingerprints match"])
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    with _open_db(args) as db:
        removed = db.purge_log(args.keep_log_days)
    _emit(args, {"removed": removed, "keep_log_days": args.keep_log_days},
          [f"deleted {removed} door-log row(s) older than {args.keep_log_days:g} day(s), and the visits (with "
           "their crops) as old"])
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from facerec.names import normalise_name

    with _open_db(args) as db:
        record, thumbnail = db.export_person(normalise_name(args.name))
    out = Path(args.out or f"facerec-export-{_safe_file_name(record['name'])}")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    if thumbnail:
        (out / "thumbnail.jpg").write_bytes(thumbnail)
        os.chmod(out / "thumbnail.jpg", 0o600)
    record["thumbnail"] = "thumbnail.jpg" if thumbnail else None
    (out / "person.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.chmod(out / "person.json", 0o600)
    _emit(args, {"name": record["name"], "folder": str(out), "faces": len(record["faces"]),
                 "door_log": len(record["door_log"])},
          [f"wrote everything stored about {printable_name(record['name'])} to {out}: person.json "
           f"({len(record['faces'])} face(s) with their encodings, {len(record['door_log'])} door-log row(s))"
           + (" and thumbnail.jpg" if thumbnail else "")])
    return 0


def _safe_file_name(name: str) -> str:
    """``name`` as a file-name part: letters, digits, ``-`` and ``_`` kept, anything else ``_``."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60] or "person"


def cmd_door(args: argparse.Namespace) -> int:
    from facerec.events import visit_event
    from facerec.sources import source_kind

    live = source_kind(args.source, args.poll) != "file"
    show = _print_visit(args.json) if live else None
    webhook, mqtt = _webhook(args), _mqtt(args)

    def on_visit(visit: dict) -> None:
        if show is not None:
            show(visit)
        event = visit_event(visit)
        for publisher in (webhook, mqtt):
            if publisher is not None:
                publisher.publish(event)

    try:
        report = _run_door(args, live, on_visit)
    finally:
        if webhook is not None:
            stats = webhook.close()
            print(f"facerec: door: {stats.delivered} event(s) sent to the webhook, {stats.failed} not delivered",
                  file=sys.stderr)
        if mqtt is not None:
            mqtt.close()
    return _door_summary(args, live, report)


def _mqtt(args: argparse.Namespace):
    """The door's MQTT publisher (None without ``--mqtt``), announcing every enrolled resident to Home Assistant;
    the broker's password from ``$FACEREC_MQTT_PASSWORD``."""
    if args.mqtt is None:
        return None
    from facerec.events.mqtt import MqttPublisher

    with _open_db(args) as db:
        residents = db.names()
    return MqttPublisher(args.mqtt, args.door_name, residents, os.environ.get("FACEREC_MQTT_PASSWORD"))


def _webhook(args: argparse.Namespace):
    """The door's webhook publisher (None without ``--webhook``); its key from ``--webhook-key-file`` or
    ``$FACEREC_WEBHOOK_KEY`` (never the command line, which ``ps`` shows)."""
    if args.webhook is None:
        return None
    from facerec.events import WebhookPublisher

    key = os.environ.get("FACEREC_WEBHOOK_KEY")
    if args.webhook_key_file is not None:
        try:
            key = Path(args.webhook_key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidArgument(f"cannot read the webhook key file {args.webhook_key_file}: {error}") from None
    return WebhookPublisher(args.webhook, key.encode() if key else None)


def _run_door(args: argparse.Namespace, live: bool, on_visit):
    from facerec.door import run_door

    with _open_db(args) as db:
        db.door = args.door_name  # a PostgreSQL store writes it into each door-log row (several doors, one log)
        encoder = _encoder(args, db)
        problem = db.write_problem()
        if problem:
            print(f"facerec: warning: the door keeps identifying, but its log is not being written: {problem}",
                  file=sys.stderr)
        report = run_door(args.source, db, args.out, every=args.every, k=args.k, fps=args.fps, encoder=encoder,
                          progress=_progress() and not live, detector=args.detector, log=problem is None,
                          keep_log_days=args.keep_log_days or None, max_fps=args.max_fps, poll=args.poll,
                          give_up=args.give_up, duration=args.duration, visit_timeout=args.visit_timeout,
                          on_visit=on_visit, detect_scale=args.detect_scale, encode_every=args.encode_every,
                          flat_check=args.flat_check,
                          **_decision(args))
    return report


def _door_summary(args: argparse.Namespace, live: bool, report) -> int:
    if live and report.frames == 0:
        raise SourceUnavailable(f"no frame came from {report.source} in {args.give_up:g} s of retrying; check the "
                                "address, the camera's power and network, or raise --give-up "
                                "(OPENCV_FFMPEG_LOGLEVEL=24 shows FFmpeg's messages)")
    if live and args.json:  # every visit was printed as a JSON line as it ended; the counts go to stderr
        print(f"facerec: door: {report.frames} frame(s) searched or drawn, {report.dropped} dropped, "
              f"{report.reconnects} reconnection(s), {len(report.visits)} visit(s)", file=sys.stderr)
        return 0
    seen = ", ".join(f"{name or 'unknown'} ({count})" for name, count in report.seen().most_common()) or "nobody"
    lines = [] if live else [_visit_line(visit) for visit in report.visits]
    _emit(args, report.to_json(), lines + [
        f"door: {report.frames} frame(s), {report.processed} searched, {len(report.faces)} face(s), "
        f"{len(report.visits)} visit(s); seen: {seen}"]
        + ([f"live source: {report.dropped} frame(s) dropped, {report.reconnects} reconnection(s)"] if live else [])
        + [f"annotated output: {args.out}" if args.out else "no annotated output (give --out for it)"])
    return 0


def _visit_line(visit: dict) -> str:
    """``visit 3: younes admitted, 0.312 over 5 frame(s), 21:30:00.125 to 21:30:04.000``."""
    who = printable_name(visit["identity"] or "unknown")
    distance = "no distance" if visit["distance"] is None else f"{visit['distance']:.3f}"
    flat = f"; {visit['refused']}" if visit.get("refused") else ""
    return (f"visit {visit['visit']}: {who} {'admitted' if visit['admitted'] else 'refused'}, {distance} over "
            f"{visit['frames']} frame(s), {visit['start'][11:23]} to {visit['end'][11:23]} UTC{flat}")


def _print_visit(as_json: bool):
    """A callback printing each visit as it ends: one JSON object per line, or :func:`_visit_line`."""
    def show(visit: dict) -> None:
        print(json.dumps(visit) if as_json else _visit_line(visit), flush=True)
    return show


def cmd_log(args: argparse.Namespace) -> int:
    with _open_db(args) as db:
        events = db.door_log(args.limit)
    rows = [[e.time, printable_name(e.identity or "unknown"), f"{e.distance:.3f}",
             "admitted" if e.admitted else "refused", printable_name(e.source), printable_name(e.door or "-")]
            for e in events]
    lines = _table(["time (UTC)", "who", "distance", "door", "seen in", "door name"], rows)
    _emit(args, [e.to_json() for e in events], lines + [f"{len(events)} event(s), newest first"])
    return 0


def cmd_visits(args: argparse.Namespace) -> int:
    with _open_db(args) as db:
        visits = db.visits(args.limit)
    if args.json:  # one object per line, as door --json prints them
        for visit in visits:
            print(json.dumps(visit))
        return 0
    for visit in visits:
        review = visit.get("review")
        said = "" if review is None else (" (reviewed: not anyone we know)" if review["stranger"] else
                                          f" (reviewed: {printable_name(review['name'])})")
        print(f"{_visit_line(visit)} {visit['start'][:10]}{said}")
    print(f"{len(visits)} visit(s), newest first; facerec assign VISIT NAME enrolls a visit's face")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    if (args.name is None) == (not args.stranger):
        raise InvalidArgument("give a NAME (this is NAME) or --stranger (not anyone we know), one of them")
    with _open_db(args) as db:
        if args.stranger:
            stranger = db.mark_stranger(args.visit)
            _emit(args, {"visit": args.visit, "stranger": stranger},
                  [f"visit {args.visit} kept as known stranger {stranger} (its encoding only)"])
            return 0
        result = db.assign_visit(args.visit, args.name)
    _emit(args, {"visit": args.visit, "name": result.name, "enrolled": result.added, "duplicates": result.duplicates},
          [f"visit {args.visit}: enrolled its face to {printable_name(result.name)}" if result.added else
           f"visit {args.visit}: {printable_name(result.name)} already has this face"])
    return 0


SERVE_MAX_CONNECTIONS = 64


def _serve_token(args: argparse.Namespace) -> str | None:
    """The server's token: ``--token-file``, else ``--token`` (with a warning: ``ps`` shows it), else
    ``$FACEREC_TOKEN``; each checked by :func:`facerec.server.security.check_token`."""
    from facerec.server.security import check_token, read_token_file

    if args.token_file is not None and args.token is not None:
        raise InvalidArgument("give the token once: --token or --token-file, not both")
    if args.token_file is not None:
        return read_token_file(args.token_file)
    if args.token is not None:
        token = check_token(args.token, "--token")
        print("facerec serve: warning: a --token on the command line is visible to other users of this machine "
              "(ps); prefer FACEREC_TOKEN or --token-file PATH", file=sys.stderr)
        return token
    if os.environ.get("FACEREC_TOKEN"):
        return check_token(os.environ["FACEREC_TOKEN"], "FACEREC_TOKEN")
    return None


def _has_keys(path: Path | str) -> bool:
    from facerec.database import FaceDatabase

    if isinstance(path, Path) and not path.is_file():
        return False
    with FaceDatabase(path, create=isinstance(path, str)) as db:  # a URL: an empty database has no keys
        return db.has_keys()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from facerec.server.app import create_app
    from facerec.server.security import LOOPBACK_HOSTS, allowed_host_names
    from facerec.sources import safe_name

    token = _serve_token(args)
    keys = _has_keys(_db_path(args))
    if args.host not in LOOPBACK_HOSTS and not token and not keys:
        raise InvalidArgument(f"listening on {args.host} exposes the door to the network: create keys "
                              "(facerec keys add NAME --role admin) or set a token (FACEREC_TOKEN or --token-file), "
                              "or listen on 127.0.0.1")
    hosts = allowed_host_names(args.host, args.allowed_host)
    camera_options = {"max_fps": args.max_fps, "detector": args.detector, "detect_scale": args.detect_scale,
                      "encode_every": args.encode_every, "flat_check": args.flat_check}
    app = create_app(_db_path(args), token=token, encoder=args.encoder, weights=args.weights, runtime=args.runtime,
                     allowed_hosts=hosts, keep_log_days=args.keep_log_days or None, camera=args.camera,
                     camera_options=camera_options, flat_check=args.flat_check)
    guard = ", keys required" if token or keys else ""
    print(f"facerec serve: http://{args.host}:{args.port}/ (API docs at /docs), database {_db_label(args)}, "
          f"{app.state.service.encoder.name} encoder{guard}; answers to {', '.join(sorted(hosts))}"
          + (f"; the door runs on {safe_name(args.camera)}" if args.camera else ""), file=sys.stderr)
    # timeout_keep_alive: an idle connection is closed after 5 s; limit_concurrency: 503 beyond 64 connections
    # at once (the body of each must arrive within 60 s: facerec.server.limits)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=5,
                limit_concurrency=SERVE_MAX_CONNECTIONS)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from facerec.database import FaceDatabase
    from facerec.server.security import ROLE_HELP, check_key_name, format_time, new_key

    path, label = _db_path(args), _db_label(args)
    if args.keys_command == "add":
        check_key_name(args.name)
        with FaceDatabase(path, create=True) as db:
            key = new_key(db, args.name, args.role)
        if args.json:
            print(json.dumps({"name": args.name, "role": args.role, "database": label, "key": key}))
        else:
            print(f"added key {args.name!r} to {label}, role {args.role}: {ROLE_HELP[args.role]}")
            print("it is shown this once and stored only as a hash; send it as 'Authorization: Bearer KEY':")
            print(key)
        return 0
    if isinstance(path, Path) and not path.is_file():
        raise InvalidArgument(f"database {path} does not exist; create keys with `facerec --db {path} keys add`")
    with FaceDatabase(path, create=isinstance(path, str)) as db:
        if args.keys_command == "revoke":
            db.revoke_key(args.name)
            _emit(args, {"name": args.name, "revoked": True}, [f"revoked key {args.name!r}: it no longer opens "
                                                               f"{label}'s server"])
            return 0
        keys = db.access_keys()
    lines = _table(["name", "role", "created", "last used"],
                   [[k["name"], k["role"], format_time(k["created"]), format_time(k["last_used"])] for k in keys])
    _emit(args, keys, lines + [f"{len(keys)} key(s)" + ("" if keys else "; the server is open on loopback "
                                                        "unless it has a token")])
    return 0


def copy_happy_house(dest: Path) -> tuple[list[str], list[str], Path]:
    """Copy the Happy House photos from the assets into ``dest``; returns ``(copied, unchanged, source)``."""
    from facerec.database import file_sha256
    from facerec.paths import assets_dir

    source = assets_dir() / "happy-house" / "images"
    files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else []
    if not files:
        raise ImageNotReadable(f"no Happy House photos in {source}; set FACEREC_ASSETS to the shared assets folder")
    dest.mkdir(parents=True, exist_ok=True)
    copied, unchanged = [], []
    for path in files:
        target = dest / path.name
        if target.is_file() and file_sha256(target) == file_sha256(path):
            unchanged.append(path.name)
            continue
        shutil.copyfile(path, target)
        copied.append(path.name)
    return copied, unchanged, source


def cmd_setup(args: argparse.Namespace) -> int:
    from facerec.paths import work_dir

    dest = Path(args.images or work_dir() / "images")
    copied, unchanged, source = copy_happy_house(dest)
    lines = [f"copied {len(copied)} Happy House photo(s) from {source} to {dest}" if copied
             else f"{dest} already holds the {len(unchanged)} Happy House photos"]
    if copied and unchanged:
        lines.append(f"{len(unchanged)} were already there")
    _emit(args, {"source": str(source), "images": str(dest), "copied": copied, "unchanged": unchanged}, lines)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from facerec.door import image_files, run_demo
    from facerec.paths import work_dir

    images = Path(args.images or work_dir() / "images")
    if not images.is_dir() or not image_files(images):
        copied, _, source = copy_happy_house(images)
        print(f"copied {len(copied)} Happy House photo(s) from {source} to {images}", file=sys.stderr)
    db_path = Path(args.db or work_dir() / "runs" / "door.sqlite")
    sheet = Path(args.out or work_dir() / "runs" / "door_sheet.png")
    encoder = _encoder(args)
    rows = run_demo(images, db_path, sheet, banned=tuple(args.ban), encoder=encoder, progress=_progress(),
                    detector=args.detector, **_decision(args))
    first = rows[0].result if rows else None
    lines = [f"{encoder.name} encoder; threshold {first.threshold:.3f} ({first.operating_point})"] if first else []
    lines += _table(["image", "closest resident", "distance", "verdict"],
                    [[r.image, r.closest, f"{r.distance:.3f}", r.verdict] for r in rows])
    lines += ((_promise_lines(first) if first else [])[1:] + [f"database: {db_path}", f"contact sheet: {sheet}"])
    payload = {"encoder": encoder.name, "threshold": first.threshold if first else None,
               "operating_point": first.operating_point if first else None, "database": str(db_path),
               "sheet": str(sheet),
               "doors": [{**r.result.to_json(), "closest": r.closest, "verdict": r.verdict} for r in rows]}
    _emit(args, payload, lines)
    return 0


def cmd_train_head(args: argparse.Namespace) -> int:
    from facerec.head import FORMS, train_bfw_head

    args.encoder = "nn4"  # the heads are nn4's
    encoder = _encoder(args)
    payload, lines = [], []
    for form in args.form or FORMS:
        head, path = train_bfw_head(form, encoder, args.out, args.seed, args.pairs_per_identity, args.epochs,
                                    progress=_progress())
        last = head.info["history"][-1]
        payload.append({"form": form, "path": str(path), "bias": head.bias, "fingerprint": head.fingerprint,
                        "training_pairs": head.info["training_pairs"], "loss": last["loss"],
                        "accuracy": last["accuracy"]})
        lines.append(f"wrote {path}: head_{form} on {head.info['training_pairs']} BFW pairs, training loss "
                     f"{last['loss']:.4f}, accuracy {last['accuracy']:.4f} at p >= 0.5")
    _emit(args, payload, lines)
    return 0


TRAINING_RECIPES = {"original": "facerec.training.train", "consistent": "facerec.training.distill"}


def cmd_train(args: argparse.Namespace) -> int:
    import importlib

    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--recipe", choices=tuple(TRAINING_RECIPES), default="original")
    known, rest = first.parse_known_args(args.rest)
    recipe = importlib.import_module(TRAINING_RECIPES[known.recipe])
    parser = argparse.ArgumentParser(prog="facerec train", description=(recipe.__doc__ or "").splitlines()[0])
    parser.add_argument("--recipe", choices=tuple(TRAINING_RECIPES), default="original",
                        help="original: BFW photos augmented on the fly (the committed weights' recipe); "
                             "consistent: teacher views of BFW and UTKFace (facerec.training.distill)")
    recipe.add_arguments(parser)
    try:
        recipe.train(parser.parse_args(rest + ["--recipe", known.recipe]))
    except FileNotFoundError as error:  # training data missing: the message says how to get it
        print(f"facerec train: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from facerec import evaluate

    parser = argparse.ArgumentParser(prog="facerec evaluate", description=(evaluate.__doc__ or "").splitlines()[0])
    evaluate.add_arguments(parser)
    evaluate.run(parser.parse_args(args.rest))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``facerec calibrate [--encoder NAME] ...``: :mod:`facerec.training.calibrate` (LFW View 1 only)."""
    from facerec.training import calibrate

    rest = list(args.rest)
    if args.encoder and "--encoder" not in rest:  # `facerec --encoder X calibrate` as well as `calibrate --encoder X`
        rest = ["--encoder", args.encoder, *rest]
    calibrate.main(rest)
    return 0


# -- parser ----------------------------------------------------------------------------


def _bounded(kind: type, low: float, high: float):
    """An argparse type: a ``kind`` (int or float) from ``low`` to ``high``; else a usage error, not a traceback."""
    what = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}") from None
        if not low <= value <= high:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"expected {what} from {low:,g} to {high:,g}, got {text[:40]}")
        return value
    return parse


def _integer(low: int, high: int):
    """An argparse type: an integer from ``low`` to ``high``."""
    return _bounded(int, low, high)


def _number(low: float, high: float):
    """An argparse type: a finite number from ``low`` to ``high``."""
    return _bounded(float, low, high)


MAX_COUNT = 1_000_000_000
DAYS = _number(0, 1_000_000)


def _keep_log_days_option(parser: argparse.ArgumentParser) -> None:
    from facerec.database import DEFAULT_KEEP_LOG_DAYS

    parser.add_argument("--keep-log-days", type=DAYS, default=DEFAULT_KEEP_LOG_DAYS, metavar="DAYS",
                        help=f"delete door-log rows older than this many days (default {DEFAULT_KEEP_LOG_DAYS}; "
                             "0 keeps every row for door and serve)")


def _add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted before or after the subcommand (after wins)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("--db", default=default(None),
                        help=f"face database: a file, or a postgresql://[user@]host[:port]/dbname URL (password from "
                             f"~/.pgpass or PGPASSWORD) (default: $FACEREC_DB or ./{DEFAULT_DB})")
    parser.add_argument("--encoder", default=default(None), choices=["dlib", "nn4", "dlib+facenet"],
                        help="encoder of a new database (default dlib; dlib+facenet: both on each face, 640-d, "
                             "fairer across groups, slower); an existing database always uses its own, "
                             "and another one is refused")
    parser.add_argument("--weights", default=default(None),
                        help="nn4's weights folder (default: $FACEREC_WEIGHTS or the repository's weights/)")
    parser.add_argument("--runtime", default=default(None), choices=["openvino", "onnxruntime", "tensorflow"],
                        help="where nn4 runs: openvino (default; also $FACEREC_RUNTIME), onnxruntime, or tensorflow "
                             "(the course's Keras model; imports TensorFlow, about 4 s)")
    parser.add_argument("--precision", default=default("float32"), choices=["float32", "bfloat16", "int8"],
                        help="nn4's arithmetic: float32 (default; the thresholds were calibrated in it), bfloat16, "
                             "or int8 (OpenVINO, the quantised model: the fast path)")
    parser.add_argument("--json", action="store_true", default=default(False), help="print JSON for scripts")
    parser.add_argument("--verbose", action="store_true", default=default(False),
                        help="show TensorFlow's start-up messages")


def _threshold_option(parser: argparse.ArgumentParser) -> None:
    """The decision options (at most one): a raw threshold, a named operating point, a pair FAR, a false alarm."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--threshold", type=_number(0, 1e6), default=None, help="accept when L2 distance <= this")
    group.add_argument("--operating-point", default=None, metavar="NAME",
                       help="a point of the encoder's model card: balanced, far-1e-2, far-1e-3, false-alarm-1e-2 "
                            "(default), false-alarm-1e-3")
    group.add_argument("--far", type=_number(0, 1), default=None, metavar="RATE",
                       help="the threshold at which this fraction of different-person pairs is accepted, e.g. 1e-3")
    group.add_argument("--false-alarm", type=_number(0, 1), default=None, metavar="RATE",
                       help="the threshold at which a stranger is accepted as anyone enrolled with this probability, "
                            "for this database's number of photos, e.g. 0.01 (the default operating point)")


def _detector_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", default="auto", choices=["hog", "cnn", "auto"],
                        help="face detector: auto (default: HOG, then dlib's CNN when HOG finds nothing), hog (fast), "
                             "cnn (finds turned and small faces; about 0.3-3 s a photo)")


def _detect_scale_option(parser: argparse.ArgumentParser) -> None:
    """The door's speed options: --detect-scale and --encode-every (see :func:`facerec.door.run_door`)."""
    parser.add_argument("--detect-scale", type=_number(0.25, 1), default=1.0, metavar="FACTOR",
                        help="detect faces on frames resized by this factor (default 1; 0.5 is faster but misses "
                             "faces under about 170 px; see BENCHMARKS.md), encode them at full size")
    parser.add_argument("--encode-every", type=_integer(1, 1000), default=None, metavar="N",
                        help="encode a face that continues one of the previous frame (box overlap) only every N-th "
                             "frame; in between it keeps its identity (default: 2 for a live source, 1 for files)")


def _flat_check_option(sub: argparse.ArgumentParser) -> None:
    """``--flat-check / --no-flat-check`` of the door (``door``; ``serve``: its camera and the page's door view)."""
    sub.add_argument("--flat-check", action=argparse.BooleanOptionalAction, default=False,
                     help="refuse a visit whose face moves as one plane (a photo or a screen held up), from dlib's "
                          "68 landmarks, whose training data restricts commercial use (default: off, and then a "
                          "photo can open the door; see MODEL_CARD.md, 'Is the face flat?')")


def build_parser() -> argparse.ArgumentParser:
    """The ``facerec`` argument parser."""
    parser = argparse.ArgumentParser(prog="facerec", description="Face verification and recognition "
                                     "with 128-d FaceNet-style encodings (OpenFace nn4.small2).", epilog=EPILOG)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    _add_common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_common(sub, suppress=True)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("enroll", cmd_enroll, "enroll photos of one person (the largest face of each)")
    sub.add_argument("name", help="the person's name")
    sub.add_argument("images", nargs="+", metavar="IMAGE", help="photos (or folders of photos)")
    sub.add_argument("--strict", action="store_true",
                     help="enroll nothing if any photo has no face or cannot be read (default: skip such photos, "
                          "say which, and enroll the rest)")
    sub.add_argument("--skip-bad", action="store_true", help="deprecated: skipping bad photos is now the default")
    _detector_option(sub)

    sub = command("verify", cmd_verify, "is the largest face of IMAGE this person? (exit 0 yes, 1 no)")
    sub.add_argument("image", help="photo to check")
    sub.add_argument("--as", dest="name", required=True, metavar="NAME", help="the claimed identity")
    sub.add_argument("--method", default="l2", choices=["l2", "head-abs", "head-chi2"],
                     help="l2: distance threshold (default); head-*: the siamese head's p(same person), "
                          "accepted at >= --threshold (default 0.5)")
    _threshold_option(sub)
    _detector_option(sub)

    sub = command("identify", cmd_identify, "who is in these photos? (every face)")
    sub.add_argument("images", nargs="+", metavar="IMAGE", help="photos (or folders of photos)")
    sub.add_argument("-k", type=_integer(1, 1000), default=1, help="candidates per face (default 1)")
    sub.add_argument("--backend", default="exact", choices=["exact", "faiss-flat", "faiss-hnsw"],
                     help="search backend (default exact)")
    _threshold_option(sub)
    _detector_option(sub)

    sub = command("people", cmd_people, "list the enrolled people")
    sub.add_argument("--groups", action="store_true", help="list the photo library's unnamed groups instead")

    sub = command("remove", cmd_remove, "remove a person and all their photos")
    sub.add_argument("name", help="the person's name")

    sub = command("door", cmd_door, "identify faces frame by frame, decide once per visit, log the visits")
    sub.add_argument("source", metavar="SOURCE",
                     help="a video file, a folder of images, one image, a camera (/dev/video0 or 0), an rtsp:// or "
                          "http(s):// MJPEG stream, or with --poll an http(s):// snapshot URL")
    sub.add_argument("--out", default=None, help="annotated video (.mp4, .avi, ...) or a folder for images "
                                                 "(default: none written)")
    sub.add_argument("--max-fps", type=_number(0.01, 1000), default=None,
                     help="live sources: search at most this many frames a second (the others are dropped)")
    sub.add_argument("--poll", type=_number(0.01, 86400), default=None,
                     help="SOURCE is a snapshot URL (one image per request): fetch it every this many seconds")
    sub.add_argument("--give-up", type=_number(0.1, 86400), default=30.0,
                     help="live sources: stop after this many seconds without a frame, reconnecting meanwhile "
                          "(default 30)")
    sub.add_argument("--duration", type=_number(0.1, 10**7), default=None,
                     help="live sources: stop after this many seconds (default: only when the stream is gone)")
    sub.add_argument("--visit-timeout", type=_number(0, 3600), default=None,
                     help="a visit ends this many seconds (stream time) after its face was last seen (default 2)")
    sub.add_argument("--webhook", default=None, metavar="URL",
                     help="POST each visit as JSON to this http(s) address (signed with HMAC-SHA256 when a key is "
                          "set, retried with back-off; see facerec.events)")
    sub.add_argument("--webhook-key-file", default=None, metavar="PATH",
                     help="the webhook's shared HMAC key, the file's first line (default $FACEREC_WEBHOOK_KEY)")
    sub.add_argument("--mqtt", default=None, metavar="URL",
                     help="publish each visit to this broker, mqtt://[user@]host[:port] (password: "
                          "$FACEREC_MQTT_PASSWORD), with Home Assistant discovery: a presence sensor per resident, "
                          "a visitor event, the door's availability (see facerec.events.mqtt)")
    _detect_scale_option(sub)
    sub.add_argument("--door-name", default="door", metavar="NAME",
                     help="this door's name in MQTT topics and Home Assistant (default door)")
    _flat_check_option(sub)
    sub.add_argument("--every", type=_integer(1, MAX_COUNT), default=1, help="search every n-th frame (default 1)")
    sub.add_argument("--fps", type=_number(0.01, 1000), default=None,
                     help="output frame rate (default: the source's, 2 for folders)")
    sub.add_argument("-k", type=_integer(1, 1000), default=1, help="candidates kept per face (default 1)")
    _threshold_option(sub)
    _detector_option(sub)
    sub.set_defaults(detector=None)  # the door's default: hog for a live source, auto for files (run_door)
    _keep_log_days_option(sub)

    sub = command("log", cmd_log, "list the door log (newest first): who came, when, and whether they got in")
    sub.add_argument("--limit", type=_integer(0, MAX_COUNT), default=50, help="events to list (default 50)")

    sub = command("visits", cmd_visits, "list the door's visits (newest first): the decision, distance, promise "
                  "and review of each; --json prints door --json's objects, one a line")
    sub.add_argument("--limit", type=_integer(0, MAX_COUNT), default=50, help="visits to list (default 50)")

    sub = command("assign", cmd_assign, "say who a visit was: enroll its face to NAME, or keep it as a known "
                  "stranger (--stranger)")
    sub.add_argument("visit", type=_integer(1, 2**63 - 1), metavar="VISIT", help="the visit's id (facerec visits)")
    sub.add_argument("name", nargs="?", default=None, metavar="NAME", help="this is NAME: enroll the visit's face")
    sub.add_argument("--stranger", action="store_true",
                     help="not anyone we know: keep the visit's encoding as a known stranger")

    sub = command("serve", cmd_serve, "serve the REST API and the web page (the door as a service)")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sub.add_argument("--port", type=_integer(0, 65535), default=8000, help="port (default 8000)")
    sub.add_argument("--token", default=None,
                     help="an admin key every request must send as 'Authorization: Bearer TOKEN' (at least "
                          "16 characters; visible in ps: prefer $FACEREC_TOKEN or --token-file); keys from "
                          "`facerec keys add` work with or without it; off loopback a token or a key is needed")
    sub.add_argument("--token-file", default=None, metavar="PATH", help="read the token from this file's first line")
    sub.add_argument("--camera", default=None, metavar="SOURCE",
                     help="run the door on this camera or stream in the background (as facerec door SOURCE: "
                          "/dev/video0, rtsp://..., an http(s) MJPEG URL, a video); its visits show in the page's "
                          "Recent visits; it stops with the server")
    sub.add_argument("--max-fps", type=_number(0.01, 1000), default=None,
                     help="with --camera: search at most this many frames a second (the others are dropped)")
    _flat_check_option(sub)
    _detector_option(sub)
    _detect_scale_option(sub)
    sub.set_defaults(detector=None)  # the door's default: hog for a live source, auto for files (run_door)
    sub.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                     help="also answer to this Host name (repeatable; default: loopback names and --host; other "
                          "names get 421, against DNS rebinding)")

    keys = command("keys", None, "the server's access keys: add (shown once), list, revoke")
    keys.set_defaults(handler=cmd_keys)
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    action = actions.add_parser("add", help="create a key and print it (last line)",
                                description="create a key of a role and print it once (last line); roles: admin "
                                            "(everything), door (identify, verify), viewer (people, pictures, log)")
    _add_common(action, suppress=True)
    action.add_argument("name", help="the key's name (letters, digits, '.', '_', '-'), e.g. front-door")
    action.add_argument("--role", required=True, choices=["admin", "door", "viewer"],
                        help="admin: everything; door: identify and verify; viewer: people, pictures and the log")
    action = actions.add_parser("list", help="list the keys (never the keys themselves)")
    _add_common(action, suppress=True)
    action = actions.add_parser("revoke", help="delete a key; it stops working at once")
    _add_common(action, suppress=True)
    action.add_argument("name", help="the key's name")

    _keep_log_days_option(sub)

    sub = command("migrate", cmd_migrate, "copy a whole database into an empty one, SQLite file <-> "
                                          "postgresql:// URL, and check counts and fingerprints")
    sub.add_argument("--from", dest="source", required=True, metavar="DB", help="the database to copy (path or URL)")
    sub.add_argument("--to", dest="target", required=True, metavar="DB",
                     help="an empty database to copy into (a new file, or a URL of an empty PostgreSQL database); "
                          "a non-empty one is refused")

    sub = command("purge", cmd_purge, "delete old door-log rows now (the door and the server also do it as they "
                  "log); the rows are overwritten in the file, not only unlinked")
    _keep_log_days_option(sub)

    sub = command("export", cmd_export, "write everything stored about one person (their photos' encodings, "
                  "boxes and sources, their picture, their door-log rows) to a folder: person.json + thumbnail.jpg")
    sub.add_argument("name", help="the person's name")
    sub.add_argument("--out", default=None, help="folder to write (default ./facerec-export-NAME)")

    sub = command("setup", cmd_setup, "copy the Happy House photos from the assets into images/")
    sub.add_argument("--images", default=None, help="destination folder (default: the repository's images/, or "
                          "./facerec-demo/images when installed)")

    sub = command("demo", cmd_demo, "enroll the Happy House residents into a fresh database (default: the "
                  "repository's runs/door.sqlite, recreated each run) and run the camera shots through the door")
    sub.add_argument("--images", default=None, help="photos folder (default: the repository's images/, or "
                          "./facerec-demo/images when installed)")
    sub.add_argument("--out", default=None, help="contact sheet PNG (default: the repository's runs/door_sheet.png, "
                          "or under ./facerec-demo)")
    sub.add_argument("--ban", action="append", default=[], metavar="NAME", help="refuse this resident (repeatable)")
    _threshold_option(sub)
    _detector_option(sub)

    sub = command("train-head", cmd_train_head, "train the siamese verification heads (a logistic unit on "
                  "|f_i - f_j| or a chi-square form) on BFW pairs; see facerec.head")
    sub.add_argument("--form", action="append", choices=["abs", "chi2"], default=None,
                     help="head form (repeatable; default: both), written to <weights>/head_<form>.npz")
    sub.add_argument("--out", default=None, help="folder for head_<form>.npz (default: the weights folder)")
    sub.add_argument("--seed", type=_integer(0, 2**32 - 1), default=0,
                     help="seed of the pairs and their order (default 0)")
    sub.add_argument("--pairs-per-identity", type=_integer(1, 100_000), default=50,
                     help="same-person pairs per BFW identity, and as many different-person pairs (default 50)")
    sub.add_argument("--epochs", type=_integer(1, 100_000), default=20, help="passes over the pairs (default 20)")

    from facerec.library.commands import add_commands  # the photo library: index, cluster, name, find, ...

    add_commands(command, _integer, _number)

    for name, handler, help_text in (("train", cmd_train, "train nn4.small2 (see `facerec train --help`)"),
                                     ("evaluate", cmd_evaluate, "benchmarks (see `facerec evaluate --help`)"),
                                     ("calibrate", cmd_calibrate, "an encoder's operating points on LFW View 1, "
                                      "written into its model card (see `facerec calibrate --help`)")):
        sub = commands.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
        sub.add_argument("rest", nargs=argparse.REMAINDER)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``facerec`` command; returns the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed by argparse
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if not args.verbose:
        _quiet_opencv()
    try:
        return args.handler(args)
    except SystemExit as exit_:  # --help or a usage error of a delegated command (train, evaluate)
        return int(exit_.code or 0)
    except (DatabaseNotWritable, DatabaseGone, SourceUnavailable) as error:  # a system problem, not bad input
        print(f"facerec: error: {error}", file=sys.stderr)
        return 1
    except FaceRecError as error:
        print(f"facerec: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"facerec: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("facerec: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line, not a traceback (--verbose shows it)
        if args.verbose:
            raise
        print(f"facerec: internal error: {type(error).__name__}: {error}; run again with --verbose for the "
              "traceback, and please report it", file=sys.stderr)
        return 1
