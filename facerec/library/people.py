"""The library's people: grouping unnamed faces, naming groups, merging, moving, "not X", find and who.

Groups are numbered; a face is in at most one group, or named (then it is one of that person's enrolled
faces, usable at the door), or neither (alone). ``cluster`` groups the faces nobody has named: the first
time all of them, later only the faces not in a group yet (each joins the group of its nearest grouped
face when that is closer than the threshold, the rest are grouped among themselves), so adding photos
never regroups the library; ``full=True`` regroups every unnamed face.
"""

from __future__ import annotations

import numpy as np

from facerec.exceptions import InvalidArgument
from facerec.library.grouping import DEFAULT_METHOD, DEFAULT_THRESHOLD, cluster, nearest

# L2: an unnamed face this close to someone's enrolled face is offered as them (find, who, "maybe"). Chosen on BFW
# by find's F1 (0.45: precision 0.364, recall 0.517; 0.5: 0.146 / 0.715); on LFW's 13,233 faces 0.45 finds with
# precision 0.822 / recall 0.598, 0.5 with 0.522 / 0.821 (`python benchmarks/clustering.py --find`, MODEL_CARD.md)
MATCH_THRESHOLD = 0.45


def group_faces(db, method: str = DEFAULT_METHOD, threshold: float = DEFAULT_THRESHOLD,
                full: bool = False) -> dict[str, int]:
    """Group the unnamed faces (see the module docstring).

    Args:
        method: a :data:`facerec.library.grouping.METHODS` name (default Chinese whispers).
        threshold: L2 distance (default 0.45) for grouping and for joining a group.
        full: regroup every unnamed face (default: only the faces not in a group yet).

    Returns:
        ``{"joined": faces that joined existing groups, "grouped": faces put in new groups, "alone": faces left
        alone}``.
    """
    faces = db.library_sql.faces(db, unnamed_only=True)
    groups = np.where(faces.groups >= 0, faces.groups, -1) if not full else np.full(len(faces.ids), -1)
    new = groups < 0
    assignment: dict[int, int | None] = {int(f): None for f in faces.ids} if full else {}
    joined = 0
    if new.any() and (~new).any():
        old_rows, rows = np.flatnonzero(~new), np.flatnonzero(new)
        distances, closest = nearest(faces.encodings[new], faces.encodings[old_rows])
        close = distances < threshold
        for row, neighbour in zip(rows[close], old_rows[closest[close]]):
            assignment[int(faces.ids[row])] = int(groups[neighbour])
        joined = int(close.sum())
        new[rows[close]] = False
    labels = cluster(faces.encodings[new], method, threshold) if new.any() else np.zeros(0, np.int64)
    sizes = np.bincount(np.unique(labels, return_inverse=True)[1]) if len(labels) else np.zeros(0, np.int64)
    first, grouped = db.library_sql.next_group(db) if not full else 1, 0
    numbers = {label: first + i for i, label in enumerate(np.unique(labels)[sizes >= 2])}
    for face, label in zip(faces.ids[new], labels):
        assignment[int(face)] = numbers.get(label)
        grouped += label in numbers
    if assignment:
        db.library_sql.set_groups(db, assignment)
    return {"joined": joined, "grouped": grouped, "alone": int(new.sum()) - grouped}


def groups(db, min_faces: int = 2, threshold: float = MATCH_THRESHOLD) -> list[dict]:
    """The unnamed groups of at least ``min_faces`` faces, biggest first (then by group id).

    Returns:
        ``[{"group": id, "faces": [{"face": id, "photo": path, "box": [l, t, r, b]}, ...], "maybe": name or
        None, "maybe_distance": median L2 distance or None}, ...]``: ``maybe`` is the enrolled person closest to
        most of the group's faces when the median distance is below ``threshold`` (default 0.5); faces with a
        "not" rule for someone never count for them.
    """
    by_group: dict[int, list[dict]] = {}
    for row in db.library_sql.face_rows(db):
        if row["group"] is not None and row["person_id"] is None:
            by_group.setdefault(row["group"], []).append({"face": row["id"], "photo": row["photo"],
                                                          "box": row["box"]})
    listed = sorted(((g, f) for g, f in by_group.items() if len(f) >= min_faces), key=lambda i: (-len(i[1]), i[0]))
    maybes = _maybe(db, [[face["face"] for face in f] for _, f in listed], threshold)
    return [{"group": g, "faces": f, "maybe": m[0], "maybe_distance": m[1]} for (g, f), m in zip(listed, maybes)]


def _maybe(db, groups_faces: list[list[int]], threshold: float) -> list[tuple[str | None, float | None]]:
    """For each group (its face ids): ``(name, median distance)`` of the person it may be, else ``(None, None)``."""
    encodings, person_ids = db.encodings()
    if len(encodings) == 0 or not groups_faces:
        return [(None, None)] * len(groups_faces)
    from facerec.search import make_search

    search, names, rules = make_search(encodings, person_ids), db.names_by_id(), db.library_sql.not_rules(db)
    library = db.library_sql.faces(db, unnamed_only=True)
    row_of = {int(f): i for i, f in enumerate(library.ids)}
    answers = []
    for face_ids in groups_faces:
        distances, people = search.search(library.encodings[[row_of[f] for f in face_ids]], k=3)
        votes: dict[int, list[float]] = {}
        for face, row_d, row_p in zip(face_ids, distances, people):
            allowed = [(d, p) for d, p in zip(row_d, row_p) if (face, int(p)) not in rules]
            if allowed:
                votes.setdefault(int(allowed[0][1]), []).append(float(allowed[0][0]))
        best = max(votes.items(), key=lambda item: len(item[1]), default=None)
        if best is None or float(np.median(best[1])) >= threshold:
            answers.append((None, None))
        else:
            answers.append((names[best[0]], round(float(np.median(best[1])), 6)))
    return answers


def name_group(db, group: int, name: str) -> dict:
    """Name a group: its faces become ``name``'s enrolled faces (one transaction, the database's encoder).

    Faces with a "not ``name``" rule leave the group instead. Returns ``{"name", "faces", "enrolled",
    "left_out"}``: ``faces`` named, ``enrolled`` of them added to the person's encodings (a person keeps one
    encoding per photo: a second face of the same photo is named but not enrolled again), ``left_out`` by a rule.

    Raises:
        InvalidArgument: no unnamed face is in ``group``.
    """
    from facerec.database import FaceRecord
    from facerec.names import check_name

    name = check_name(name)
    rows = [r for r in db.library_sql.face_rows(db, group=group) if r["person_id"] is None]
    if not rows:
        raise InvalidArgument(f"group {group} has no faces; facerec --db PATH cluster lists the groups")
    ruled = {face for face, person in db.library_sql.not_rules(db) if person == _person_id_or_none(db, name)}
    keep = [r["id"] for r in rows if r["id"] not in ruled]
    left_out = [r["id"] for r in rows if r["id"] in ruled]
    details = db.library_sql.face_details(db, keep)
    records = [FaceRecord(vector, path, sha, box, _thumbnail(path, box) if i == 0 else None)
               for i, (_, sha, path, box, vector) in enumerate(details)]
    if left_out:
        db.library_sql.set_groups(db, {face: None for face in left_out})
    added: list[str] = []
    if records:
        added, _ = db.add_faces(name, records, db.model_fingerprint, db.encoder_name,
                                then=lambda connection: db.library_sql.mark_named(connection, keep, name))
    return {"name": name, "faces": len(keep), "enrolled": len(added), "left_out": len(left_out)}


def _person_id_or_none(db, name: str) -> int | None:
    from facerec.exceptions import UnknownIdentity

    try:
        return db.person_id(name)
    except UnknownIdentity:
        return None


def _thumbnail(path: str, box) -> bytes | None:
    """The person's picture from the first face named (None when the photo cannot be read now)."""
    from facerec.database import _thumbnail as make
    from facerec.exceptions import ImageNotReadable, ImageTooLarge
    from facerec.image import load_image

    try:
        return make(load_image(path), box)
    except (ImageNotReadable, ImageTooLarge):
        return None


def merge(db, target: int, others: list[int]) -> int:
    """Move every face of the groups ``others`` into group ``target``; returns the faces moved."""
    store = db.library_sql
    moved = [r["id"] for g in others if g != target for r in store.face_rows(db, group=g) if r["person_id"] is None]
    if not store.face_rows(db, group=target):
        raise InvalidArgument(f"group {target} has no faces; facerec --db PATH cluster lists the groups")
    store.set_groups(db, {face: target for face in moved})
    return len(moved)


def move(db, face: int, group: int | None) -> None:
    """Put an unnamed face into ``group`` (None: out of every group, alone).

    Raises:
        InvalidArgument: no such face, or the face is named (``not FACE NAME`` unnames it first).
    """
    rows = db.library_sql.face_rows(db, face_ids=[face])
    if not rows:
        raise InvalidArgument(f"no face {face} in the library; facerec --db PATH cluster lists the faces")
    if rows[0]["person_id"] is not None:
        raise InvalidArgument(f"face {face} is named; unname it first (facerec --db PATH not {face} NAME)")
    db.library_sql.set_groups(db, {face: group})


def not_person(db, face: int, name: str) -> None:
    """Record that ``face`` is not ``name``: never proposed as them again; if it was named so, it is unnamed.

    Raises:
        InvalidArgument: no such face. UnknownIdentity: ``name`` is not enrolled.
    """
    if not db.library_sql.face_exists(db, face):
        raise InvalidArgument(f"no face {face} in the library; facerec --db PATH cluster lists the faces")
    db.library_sql.add_not(db, face, db.person_id(name))


def find(db, name: str, threshold: float = MATCH_THRESHOLD) -> list[dict]:
    """The photos that contain ``name``: faces named so, and unnamed faces closer than ``threshold`` to one of
    their enrolled faces (never a face with a "not ``name``" rule).

    Returns:
        ``[{"photo": path, "box": [l, t, r, b], "distance": L2}, ...]``, closest first, one entry a photo file.

    Raises:
        UnknownIdentity: ``name`` is not enrolled.
    """
    person = db.person_id(name)
    encodings, _ = db.encodings(name)
    library = db.library_sql.faces(db)
    if len(library.ids) == 0:
        return []
    distances = nearest(library.encodings, encodings)[0]
    distances = np.where(library.people == person, 0.0, distances)
    ruled = {face for face, p in db.library_sql.not_rules(db) if p == person}
    hits = [(float(d), int(f)) for f, d, p in zip(library.ids, distances, library.people)
            if (p == person or (p < 0 and d < threshold)) and int(f) not in ruled]
    boxes = {r["id"]: r["box"] for r in db.library_sql.face_rows(db, face_ids=[f for _, f in hits])} if hits else {}
    paths = db.library_sql.photos_of_faces(db, [f for _, f in hits])
    found = [{"photo": path, "box": boxes[face], "distance": round(d, 6)}
             for d, face in sorted(hits) for path in paths.get(face, [])]
    return sorted(found, key=lambda hit: (hit["distance"], hit["photo"]))


def who(db, photo: str, threshold: float = MATCH_THRESHOLD) -> list[dict]:
    """Who is in an indexed photo: ``[{"face": id, "box": [...], "name": name or None, "distance": L2 or None,
    "group": id or None}, ...]``; a named face has distance 0, an unnamed one its closest enrolled person
    within ``threshold`` (never one it has a "not" rule for).

    Raises:
        InvalidArgument: the photo is not in the library (``facerec index`` it first).
    """
    from pathlib import Path

    face_ids = db.library_sql.faces_of_photo(db, str(Path(photo).resolve()))
    if not face_ids and str(Path(photo).resolve()) not in db.library_sql.photo_states(db):
        raise InvalidArgument(f"{photo} is not in the library; index its folder first (facerec --db PATH index "
                              "FOLDER)")
    rows, names = db.library_sql.face_rows(db, face_ids=face_ids), db.names_by_id()
    details = {f: vector for f, _, _, _, vector in db.library_sql.face_details(db, face_ids)}
    rules, encodings, people = db.library_sql.not_rules(db), *db.encodings()
    answers = []
    for row in rows:
        name, distance = (names.get(row["person_id"]), 0.0) if row["person_id"] is not None else (None, None)
        if name is None and len(encodings):
            d = np.linalg.norm(encodings - details[row["id"]], axis=1)
            for i in np.argsort(d, kind="stable"):
                if d[i] < threshold and (row["id"], int(people[i])) not in rules:
                    name, distance = names[int(people[i])], round(float(d[i]), 6)
                break
        answers.append({"face": row["id"], "box": row["box"], "name": name, "distance": distance,
                        "group": row["group"]})
    return answers
