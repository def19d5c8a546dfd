"""The door's time per photo with each encoder: ``facerec.identify`` on one photo, end to end, interleaved.

Each encoder gets its own database of the twelve Happy House residents (one photo each, enrolled
beforehand, untimed); every timed call is what the door does for one camera photo: read, detect
(``auto``), encode the largest face, search the gallery and decide (threshold and the cohort rule,
the default). The photos are ``--photos`` LFW photos (one per person, spread over the alphabet),
each sent to every encoder in turn (round-robin, :func:`bench_common.interleaved`), so the load of
the machine falls on both alike. Prints the median ms per photo of each and their ratio against
``dlib`` (the baseline, measured in the same command).

Usage: ``python benchmarks/door_speed.py [--encoders dlib dlib+facenet] [--photos 20] [--rounds 3] [--json]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_common import happy_house_photos, interleaved, lfw_photos, machine

RESIDENTS = ("andrew", "arnaud", "benoit", "bertrand", "dan", "danielle", "felix", "kevin", "kian", "sebastiano",
             "tian", "younes")


def gallery(folder: Path, encoder: str):
    """A database of the Happy House residents made with ``encoder`` (one photo each)."""
    import facerec

    photos = {photo.stem: photo for photo in happy_house_photos()}
    db = facerec.FaceDatabase(folder / f"{encoder.replace('+', '_')}.sqlite", encoder=encoder)
    for name in RESIDENTS:
        if name in photos:
            db.enroll(name, [photos[name]])
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=["dlib", "dlib+facenet"], help="dlib first: the baseline")
    parser.add_argument("--photos", type=int, default=20, help="LFW photos per round (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the photos (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    import facerec

    photos = lfw_photos(args.photos)
    with tempfile.TemporaryDirectory() as folder:
        dbs = {name: gallery(Path(folder), name) for name in args.encoders}
        contenders = {name: (lambda i, db=db: facerec.identify(photos[i], db)) for name, db in dbs.items()}
        seconds = interleaved(contenders, args.rounds, len(photos))
        people = {name: len(db.names()) for name, db in dbs.items()}
        for db in dbs.values():
            db.close()
    baseline = args.encoders[0]
    result = {"photos": len(photos), "rounds": args.rounds, "gallery_people": people,
              "ms_per_photo": {name: round(1000 * value, 1) for name, value in seconds.items()},
              "ratio_to_" + baseline: {name: round(value / seconds[baseline], 2) for name, value in seconds.items()},
              "machine": machine()}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, value in seconds.items():
            print(f"{name}: {1000 * value:.1f} ms a photo ({value / seconds[baseline]:.2f} x {baseline})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
