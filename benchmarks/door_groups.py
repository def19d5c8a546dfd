"""The door's promise per demographic group, on BFW's 200 held-out people (issue 23).

**Protocol.** BFW's held-out people (:mod:`facerec.training.bfw_split`: 25 of each of
its 8 groups) are never used for anything but this report. For each group,
``--draws`` seeded households of ``--household`` people of that group are drawn
from its 25; each resident enrolls ``--enrolled`` photos (drawn at random) and
their other photos are probes. The group's other held-out people are the
strangers (``strangers_let_in``: the hard case, look-alikes of the same group);
every held-out person of the other 7 groups is a stranger too
(``other_groups_let_in``). Figures are pooled over the draws.

**Decision.** The door's own: :class:`facerec.search.ExactSearch` (the database's
search) finds each probe's distance to every resident's closest enrolled photo, and
:func:`facerec.api.decision_threshold` gives the threshold of each operating point of
the encoder's model card for the household's number of encodings (a gallery point
for 36 encodings by default). A probe is let in when its nearest resident is within
the threshold; a resident is *admitted* when let in as themselves.

**Cohort rules** (``--rules``): per-resident thresholds derived without knowing
anyone's group, measured beside today's global rule (see :func:`rule_table`).
Their cohort and their tuning use BFW's 600 development people only (half of each
group's 75 are the cohort, the other half the tuning households and strangers);
never the 200 held-out people, never LFW.

Encodings: dlib's descriptors of BFW's photos (HOG face box, the whole tight crop
when HOG finds none, as :func:`facerec.datasets.choose_face`), cached in
``datasets/bfw_dlib.h5`` (about 20 min for the 20,000 photos on 2 cores, 5 min for the held-out 5,000
that a run without ``--rules`` needs; resumable).

``--encoder facenet`` uses FaceNet (:mod:`facerec.encoders.facenet`, cached in ``datasets/bfw_facenet.h5``,
about 25 ms a photo) and ``--encoder dlib+facenet`` the fusion of both (each distance divided by its
encoder's median View 1 impostor distance, summed; operating points from ``dlib+facenet.json``, calibrated
on View 1 by ``python -m facerec.training.calibrate --encoder dlib+facenet``). The rule tables compute the
nearest-photo distance in numpy (:func:`distance_matrix`); the door's default decision goes through the
door's own code for every encoder with a cohort (:class:`facerec.search.ExactSearch` with the fusion's
blocks, :func:`facerec.cohort.gate` with ``dlib+facenet_cohort.npz``), the thresholds too.

Usage: ``python benchmarks/door_groups.py [--encoder dlib|facenet|dlib+facenet] [--rules] [--draws N]
[--json]``; a saved ``--json`` result as the Markdown table of MODEL_CARD.md:
``python benchmarks/door_groups.py --markdown RESULT_JSON``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HOUSEHOLD = 12  # people per household
ENROLLED = 3  # photos enrolled per resident
DRAWS = 10  # households per group
SEED = 23  # the number; changing it changes every figure
COHORT_PHOTOS = 2  # photos per cohort person
TUNE_TARGET = 0.015  # dev-split target for same-group strangers (the 2 %, with a margin)
KS = (1, 2, 3, 5, 10, 20)


@dataclass
class Rows:
    """BFW's photos: ``paths[i]`` shows ``people[i]`` of ``groups[i]``; ``held[i]``: a held-out person."""

    paths: list[str]
    people: np.ndarray
    groups: np.ndarray
    held: np.ndarray


@dataclass
class Household:
    """One drawn household: row indices into :class:`Rows` and each enrolled/probe row's resident index."""

    group: str
    residents: list[str]
    enrolled: np.ndarray
    enrolled_who: np.ndarray
    probes: np.ndarray
    probes_who: np.ndarray
    strangers: np.ndarray
    others: np.ndarray


def load_rows() -> Rows:
    """Every BFW photo with its person, group and held-out flag (from the assets' listing)."""
    from facerec.datasets import list_photos
    from facerec.training.bfw_split import held_out_mask

    listing = list_photos("bfw")
    people = [person for _, person, _ in listing]
    groups = [group for _, _, group in listing]
    return Rows([p for p, _, _ in listing], np.array(people), np.array(groups), held_out_mask(people, groups))


def draw_households(rows: Rows, pool: np.ndarray, group: str, draws: int = DRAWS, seed: int = SEED,
                    household: int = HOUSEHOLD, enrolled: int = ENROLLED) -> list[Household]:
    """``draws`` households of ``household`` people of ``group``, all from the rows in ``pool``.

    Args:
        rows: BFW's photos; pool: boolean ``(N,)``, the rows anyone may be drawn from (residents and strangers).
        group: the household's group; seed: with the group's name and the draw's number, fixes each draw.
        household: people per household; enrolled: photos enrolled per resident (the rest are probes).

    Returns:
        The households; strangers are the pool's other people of ``group``, others the pool's other groups.
    """
    in_group = pool & (rows.groups == group)
    people = sorted(set(rows.people[in_group].tolist()))
    if len(people) < household:
        raise ValueError(f"{group}: {len(people)} people in the pool, need at least {household}")
    salt = int.from_bytes(group.encode()[:8].ljust(8, b"\0"), "little")
    result = []
    for draw in range(draws):
        rng = np.random.default_rng([seed, salt, draw])
        residents = sorted(rng.choice(people, household, replace=False).tolist())
        enrolled_rows, enrolled_who, probe_rows, probe_who = [], [], [], []
        for who, person in enumerate(residents):
            photos = rng.permutation(np.flatnonzero(in_group & (rows.people == person)))
            enrolled_rows.extend(photos[:enrolled])
            enrolled_who.extend([who] * len(photos[:enrolled]))
            probe_rows.extend(photos[enrolled:])
            probe_who.extend([who] * len(photos[enrolled:]))
        strangers = np.flatnonzero(in_group & ~np.isin(rows.people, residents))
        others = np.flatnonzero(pool & (rows.groups != group))
        result.append(Household(group, residents, np.array(enrolled_rows), np.array(enrolled_who),
                                np.array(probe_rows), np.array(probe_who), strangers, others))
    return result


BLOCKS: list[int] = []  # a fused encoding's parts' widths (each part pre-divided by its scale); [] for one encoder


def distance_matrix(gallery: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``(Q, G)`` distances: the door's :class:`facerec.search.ExactSearch` for 128-d encodings; for wider
    ones (which it refuses) the same L2 in numpy, and for a fusion the sum of its parts' L2 distances."""
    from facerec.search import ENCODING_SIZE, ExactSearch

    if not BLOCKS and gallery.shape[1] == ENCODING_SIZE:
        return np.sqrt(ExactSearch(gallery, np.arange(len(gallery))).squared_distances(queries))
    total = np.zeros((len(queries), len(gallery)))
    start = 0
    for width in BLOCKS or [gallery.shape[1]]:
        g, q = gallery[:, start:start + width].astype(np.float64), queries[:, start:start + width].astype(np.float64)
        d2 = np.sum(q * q, axis=1)[:, None] - 2 * q @ g.T + np.sum(g * g, axis=1)[None]
        total += np.sqrt(np.maximum(d2, 0))
        start += width
    return total


def resident_distances(gallery: np.ndarray, who: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``(Q, H)``: each query's distance to each resident's closest enrolled photo (the door's search)."""
    from facerec.search import ENCODING_SIZE, ExactSearch

    people = int(who.max()) + 1
    if len(queries) == 0:  # a household of every person of its group: no same-group stranger
        return np.zeros((0, people), np.float32)
    if not BLOCKS and gallery.shape[1] == ENCODING_SIZE:
        distances, ids = ExactSearch(gallery, who).search(queries, people)
        dense = np.empty((len(queries), people), np.float32)
        np.put_along_axis(dense, ids, distances, axis=1)
        return dense
    full = distance_matrix(gallery, queries)
    return np.stack([full[:, who == r].min(axis=1) for r in range(people)], axis=1).astype(np.float32)


@dataclass
class Scored:
    """A household's probes scored against its residents: ``(Q, H)`` distance matrices and the residents' truth."""

    group: str
    residents: np.ndarray
    truth: np.ndarray
    strangers: np.ndarray
    others: np.ndarray
    gallery: np.ndarray
    gallery_who: np.ndarray
    house: Household | None = None


def score(encodings: np.ndarray, house: Household) -> Scored:
    """Distances of a household's probes, strangers and other groups' strangers to each resident."""
    gallery = encodings[house.enrolled]
    return Scored(house.group, resident_distances(gallery, house.enrolled_who, encodings[house.probes]),
                  house.probes_who, resident_distances(gallery, house.enrolled_who, encodings[house.strangers]),
                  resident_distances(gallery, house.enrolled_who, encodings[house.others]),
                  gallery, house.enrolled_who, house)


def centroid_scored(encodings: np.ndarray, house: Household) -> Scored:
    """Like :func:`score`, but each resident is one template: the mean of their enrolled encodings."""
    who = house.enrolled_who
    centres = np.stack([encodings[house.enrolled[who == r]].mean(axis=0) for r in range(int(who.max()) + 1)])
    ids = np.arange(len(centres))
    return Scored(house.group, resident_distances(centres, ids, encodings[house.probes]), house.probes_who,
                  resident_distances(centres, ids, encodings[house.strangers]),
                  resident_distances(centres, ids, encodings[house.others]), centres, ids, house)


def probe_normalised(scored: Scored, row_scale: np.ndarray) -> Scored:
    """``scored`` with each query's distances divided by ``sqrt(row_scale)`` of its photo (the probe's side of a
    symmetric normalisation ``d / sqrt(scale_resident * scale_probe)``; the resident's side is its threshold)."""
    house = scored.house

    def divide(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return matrix / np.sqrt(row_scale[rows])[:, None]

    return Scored(scored.group, divide(scored.residents, house.probes), scored.truth,
                  divide(scored.strangers, house.strangers), divide(scored.others, house.others),
                  scored.gallery, scored.gallery_who, house)


def row_scales(encodings: np.ndarray, rows: np.ndarray, cohort: np.ndarray, ks: tuple[int, ...]) -> dict:
    """``{k: (N,)}``: for each of ``rows``, the mean of its ``k`` nearest cohort distances (others zero)."""
    nearest = np.concatenate([np.sort(distance_matrix(cohort, encodings[rows[i:i + 2048]]), axis=1)
                              for i in range(0, len(rows), 2048)])
    scales = {}
    for k in ks:
        scales[k] = np.zeros(len(encodings))
        scales[k][rows] = nearest[:, :k].mean(axis=1)
    return scales


def decide(distances: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(let_in, who)``: the resident of the smallest ``distance / threshold``, let in when it is at most 1.

    With one threshold for everyone this is the door's rule: the nearest resident, within the threshold.
    """
    ratio = distances / np.asarray(thresholds, np.float64)
    who = np.argmin(ratio, axis=1)
    return ratio[np.arange(len(ratio)), who] <= 1.0, who


def figures(scored: list[Scored], thresholds: list[np.ndarray]) -> dict:
    """Per group: ``strangers_let_in``, ``other_groups_let_in``, ``residents_admitted`` and the probe counts.

    Args:
        scored: the households; thresholds: each household's ``(H,)`` per-resident thresholds.
    """
    pooled: dict[str, dict[str, list]] = {}
    for house, limit in zip(scored, thresholds, strict=True):
        acc = pooled.setdefault(house.group, {"strangers": [], "others": [], "admitted": []})
        acc["strangers"].append(decide(house.strangers, limit)[0])
        acc["others"].append(decide(house.others, limit)[0])
        let_in, who = decide(house.residents, limit)
        acc["admitted"].append(let_in & (who == house.truth))
    return pooled_figures(pooled)


def operating_points(scored: list[Scored], threshold_of: Callable[[str, int], float], names: list[str],
                     gallery_size: int) -> dict:
    """Today's rule, one global threshold, at every named operating point: threshold and per-group figures."""
    table = {}
    for name in names:
        value = float(threshold_of(name, gallery_size))
        table[name] = {"threshold": round(value, 5),
                       "groups": figures(scored, [np.full(house.residents.shape[1], value) for house in scored])}
    return table


def development_split(rows: Rows, seed: int = SEED, per_person: int = COHORT_PHOTOS) -> tuple[np.ndarray, np.ndarray]:
    """``(cohort_rows, tuning_pool)`` from BFW's development people (never a held-out one): the split of
    :func:`facerec.training.cohort.development_split`, whose cohort the door ships."""
    from facerec.training.cohort import development_split as split

    return split(rows.people, rows.groups, rows.held, seed, per_person)


def neighbours(house: Scored, cohort: np.ndarray | None, household: bool) -> np.ndarray:
    """``(H, M)``, ascending per resident: each impostor encoding's distance to the resident's closest photo.

    Impostors: the ``cohort``'s encodings (strangers of every group) and, with ``household``, the other
    residents' enrolled encodings (the household's own look-alikes). Nobody's group is used.
    """
    parts = []
    if cohort is not None:
        parts.append(resident_distances(house.gallery, house.gallery_who, cohort).T)
    if household:
        own = resident_distances(house.gallery, house.gallery_who, house.gallery).T.astype(np.float64)
        own[house.gallery_who[None, :] == np.arange(own.shape[0])[:, None]] = np.inf
        parts.append(own)
    return np.sort(np.concatenate(parts, axis=1), axis=1)


def knn_scale(sorted_neighbours: np.ndarray, k: int) -> np.ndarray:
    """``(H,)``: the mean of each resident's ``k`` nearest impostor distances."""
    return sorted_neighbours[:, :k].mean(axis=1)


def tune_alpha(scored: list[Scored], scales: list[np.ndarray], target: float = TUNE_TARGET) -> float:
    """The largest ``alpha`` with thresholds ``alpha * scale`` letting in at most ``target`` of every group's
    same-group strangers (on the tuning split)."""
    ratios: dict[str, list[np.ndarray]] = {}
    for house, scale in zip(scored, scales):
        ratios.setdefault(house.group, []).append((house.strangers / scale).min(axis=1))
    alphas = []
    for parts in ratios.values():
        ordered = np.sort(np.concatenate(parts))
        alphas.append(ordered[int(np.floor(target * ordered.size))] * (1 - 1e-6))  # strictly below it
    return float(min(alphas))


def quantile_rule(sorted_neighbours: np.ndarray, household: int = HOUSEHOLD, false_alarm: float = 0.01) -> np.ndarray:
    """The issue's per-resident threshold: the ``1 - (1 - a) ** (1 / H)`` quantile of the cohort's distances."""
    q = -np.expm1(np.log1p(-false_alarm) / household)
    return np.quantile(sorted_neighbours, q, axis=1)


VARIANTS = {"cohort": (True, False), "cohort+household": (True, True), "household": (False, True)}


def rule_table(dev: list[Scored], held: list[Scored], cohort: np.ndarray, row_scale: dict,
               templates: tuple[list[Scored], list[Scored]] | None = None) -> list[dict]:
    """Every per-resident rule: tuned on the development split (``dev``), then measured on ``held``.

    Rules: the issue's cohort quantile (no tuning), and for each impostor set of :data:`VARIANTS` and each
    ``k`` of :data:`KS`, thresholds ``alpha * mean(k nearest impostor distances)`` with ``alpha`` from
    :func:`tune_alpha`; and the symmetric normalisation (:func:`symmetric_rules`, ``row_scale`` from
    :func:`row_scales`), also on residents' templates (``templates``: ``dev`` and ``held`` by
    :func:`centroid_scored`). The rule with the best lowest-group ``residents_admitted`` on ``dev`` is ``chosen``.
    """
    table = []
    dev_cohort = [neighbours(house, cohort, False) for house in dev]
    held_cohort = [neighbours(house, cohort, False) for house in held]
    table.append({"rule": "cohort-quantile", "params": {"false_alarm": 0.01, "household": HOUSEHOLD},
                  "dev": figures(dev, [quantile_rule(n) for n in dev_cohort]),
                  "groups": figures(held, [quantile_rule(n) for n in held_cohort])})
    for name, (use_cohort, household) in VARIANTS.items():
        dev_n = [neighbours(house, cohort if use_cohort else None, household) for house in dev]
        held_n = [neighbours(house, cohort if use_cohort else None, household) for house in held]
        for k in KS:
            if any(not np.isfinite(n[:, :k]).all() for n in dev_n + held_n):
                continue  # fewer than k impostor encodings (a small household alone)
            alpha = tune_alpha(dev, [knn_scale(n, k) for n in dev_n])
            table.append({"rule": f"{name}-knn", "params": {"k": k, "alpha": round(alpha, 5)},
                          "dev": figures(dev, [alpha * knn_scale(n, k) for n in dev_n]),
                          "groups": figures(held, [alpha * knn_scale(n, k) for n in held_n])})
    table += symmetric_rules(dev, held, cohort, row_scale)
    if templates is not None:
        table += symmetric_rules(*templates, cohort, row_scale, "template-symmetric")
    tuned = [row for row in table if "alpha" in row["params"]]
    best = max(tuned, key=lambda row: min(g["residents_admitted"] for g in row["dev"].values()))
    for row in table:
        row["chosen"] = row is best
    return table


def symmetric_rules(dev: list[Scored], held: list[Scored], cohort: np.ndarray, row_scale: dict,
                    name: str = "cohort-symmetric") -> list[dict]:
    """Accept when ``d / sqrt(scale_resident * scale_probe) <= alpha`` (both scales: the mean of the ``k``
    nearest cohort distances, the resident's over their closest enrolled photo, or their template for
    :func:`centroid_scored` households), ``alpha`` tuned on ``dev``."""
    table = []
    dev_n = [neighbours(house, cohort, False) for house in dev]
    held_n = [neighbours(house, cohort, False) for house in held]
    for k in KS:
        dev_k = [probe_normalised(house, row_scale[k]) for house in dev]
        held_k = [probe_normalised(house, row_scale[k]) for house in held]
        alpha = tune_alpha(dev_k, [np.sqrt(knn_scale(n, k)) for n in dev_n])
        table.append({"rule": name, "params": {"k": k, "alpha": round(alpha, 5)},
                      "dev": figures(dev_k, [alpha * np.sqrt(knn_scale(n, k)) for n in dev_n]),
                      "groups": figures(held_k, [alpha * np.sqrt(knn_scale(n, k)) for n in held_n])})
    return table


NO_LIMIT = 1e9  # an alpha that never refuses (finite, so that a probe beyond the threshold, at inf, stays out)


def door_scores(photos: Scored, template: Scored, cohort: np.ndarray, row_scale: dict, k: int,
                threshold: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The door's decision parts per probe set: ``{set: (score, right)}`` where ``score`` is the template-symmetric
    score of the nearest resident (by closest photo) or ``inf`` when that resident is beyond ``threshold``, and
    ``right`` whether that resident is the probe's own (for residents)."""
    scale = np.sqrt(knn_scale(neighbours(template, cohort, False), k))
    normalised = probe_normalised(template, row_scale[k])
    parts = {}
    for key in ("residents", "strangers", "others"):
        distances, scores = getattr(photos, key), getattr(normalised, key) / scale[None]
        nearest = np.argmin(distances, axis=1)
        rows = np.arange(len(nearest))
        value = np.where(distances[rows, nearest] <= threshold, scores[rows, nearest], np.inf)
        right = nearest == photos.truth if key == "residents" else np.ones(len(nearest), bool)
        parts[key] = (value, right)
    return parts


def door_rules(dev: list[Scored], held: list[Scored], templates: tuple[list[Scored], list[Scored]],
               cohort: np.ndarray, row_scale: dict, threshold: float) -> list[dict]:
    """The door's own decision (the gallery ``threshold`` on the closest photo **and** the template-symmetric
    score of that resident at most ``alpha``) for each ``k``, ``alpha`` tuned on ``dev`` with both in force."""
    table = []
    for k in KS:
        dev_parts = [door_scores(p, t, cohort, row_scale, k, threshold) for p, t in zip(dev, templates[0])]
        held_parts = [door_scores(p, t, cohort, row_scale, k, threshold) for p, t in zip(held, templates[1])]
        alphas = []
        for group in sorted({house.group for house in dev}):
            values = np.sort(np.concatenate([parts["strangers"][0] for house, parts in zip(dev, dev_parts)
                                             if house.group == group]))
            alphas.append(values[int(np.floor(TUNE_TARGET * values.size))] * (1 - 1e-6))
        alpha = float(min(min(alphas), NO_LIMIT))  # inf: the threshold alone keeps every group under the target

        def measured(houses: list[Scored], parts_list: list[dict], alpha: float = alpha) -> dict:
            pooled: dict[str, dict[str, list]] = {}
            for house, parts in zip(houses, parts_list):
                acc = pooled.setdefault(house.group, {"strangers": [], "others": [], "admitted": []})
                acc["strangers"].append(parts["strangers"][0] <= alpha)
                acc["others"].append(parts["others"][0] <= alpha)
                acc["admitted"].append((parts["residents"][0] <= alpha) & parts["residents"][1])
            return pooled_figures(pooled)
        table.append({"rule": "threshold+template-symmetric", "params": {"k": k, "alpha": round(alpha, 5)},
                      "dev": measured(dev, dev_parts), "groups": measured(held, held_parts)})
    return table


def group_oracle(held: list[Scored], target: float = 0.02) -> dict:
    """A bound, not a rule: per group, the one threshold letting in ``target`` of its own strangers, chosen on
    the held-out households themselves and knowing their group (what no per-group threshold can beat)."""
    table = {}
    for group in sorted({house.group for house in held}):
        mine = [house for house in held if house.group == group]
        ones = [np.ones(house.residents.shape[1]) for house in mine]
        value = tune_alpha(mine, ones, target)
        table[group] = {"threshold": round(value, 5), **figures(mine, [value * one for one in ones])[group]}
    return table


def summary(groups: dict) -> dict:
    """The worst group: most same-group strangers let in, fewest residents admitted."""
    measured = [g["strangers_let_in"] for g in groups.values() if g["strangers_let_in"] is not None]
    return {"max_strangers_let_in": max(measured) if measured else None,
            "min_residents_admitted": min(g["residents_admitted"] for g in groups.values())}


ENCODERS = ("dlib", "facenet", "dlib+facenet")


def bfw_encodings(rows: Rows, needed: np.ndarray, progress: bool, encoder: str = "dlib") -> np.ndarray:
    """Encodings of the ``needed`` rows (others zero), cached in ``datasets/bfw_<encoder>.h5``.

    ``dlib``: ``(N, 128)``; ``facenet``: ``(N, 512)``; ``dlib+facenet``: both side by side, each divided by
    its encoder's median View 1 impostor distance (:func:`fusion_scales`), and :data:`BLOCKS` set so that
    distances are the sum of the two parts' distances.
    """
    from facerec.encoders import dlib_resnet, facenet

    chosen = np.flatnonzero(needed)
    paths = [rows.paths[i] for i in chosen]
    parts = []
    for name, module in (("dlib", dlib_resnet), ("facenet", facenet)):
        if name in encoder.split("+"):
            part = np.zeros((len(rows.paths), 128 if name == "dlib" else 512), np.float32)
            part[chosen] = module.encode_collection("bfw", paths, progress)
            parts.append(part)
    if len(parts) == 1:
        return parts[0]
    scales = fusion_scales()
    BLOCKS[:] = [part.shape[1] for part in parts]
    return np.concatenate([part / np.float32(scale) for part, scale in zip(parts, scales, strict=True)], axis=1)


def fusion_scales() -> tuple[float, float]:
    """dlib's and FaceNet's median View 1 impostor distances (from their model cards)."""
    from facerec.encoders.dlib_resnet import model_card as dlib_card
    from facerec.encoders.facenet import model_card as facenet_card
    from facerec.training.calibrate import median_impostor

    return median_impostor(dlib_card()), median_impostor(facenet_card())


class CardOnly:
    """An encoder as far as the door's decision code needs one: its model card (for the fusion)."""

    def __init__(self, card: dict):
        self._card = card

    def card(self) -> dict:
        return self._card


def encoder_card(encoder: str) -> tuple[dict, Callable[[str, int], float]]:
    """``(card, threshold_of)``: the encoder's model card and the door's threshold of a named point."""
    from facerec.api import decision_threshold

    if encoder == "dlib":
        from facerec.encoders.dlib_resnet import get_dlib_encoder as get
    elif encoder == "facenet":
        from facerec.encoders.facenet import get_facenet_encoder as get
    else:
        from facerec.encoders.facenet import CARD_PATH

        card = json.loads(CARD_PATH.with_name(f"{encoder}.json").read_text())
        return card, lambda name, size: decision_threshold(CardOnly(card), size, operating_point=name).value
    card = get().card()
    return card, lambda name, size: decision_threshold(get(), size, operating_point=name).value


def door_default(held: list[Scored], encodings: np.ndarray, card: dict, threshold: float) -> tuple[dict, str]:
    """The door's default decision per group: ``(groups, description)``; ``({}, ...)`` without a cohort.

    The door's own code: :class:`facerec.search.ExactSearch` for each probe's nearest resident and
    :func:`facerec.cohort.gate` with the cohort of the encoder's card (:func:`facerec.api.decision_cohort`)
    on top of the default point's threshold.
    """
    from facerec.api import decision_cohort
    from facerec.cohort import gate
    from facerec.search import ExactSearch

    cohort = decision_cohort(CardOnly(card))
    if cohort is None or cohort.encodings.shape[1] != encodings.shape[1]:
        return {}, "threshold"
    blocks = tuple(BLOCKS) or None  # a fusion: the door's search sums its blocks' distances (facerec.distances)
    pooled: dict[str, dict[str, list]] = {}
    for house in held:
        search = ExactSearch(house.gallery, house.gallery_who, blocks=blocks)
        acc = pooled.setdefault(house.group, {"strangers": [], "others": [], "admitted": []})
        for key, rows in (("strangers", house.house.strangers), ("others", house.house.others),
                          ("admitted", house.house.probes)):
            queries = encodings[rows]
            if len(queries) == 0:
                acc[key].append(np.zeros(0, bool))
                continue
            distances, ids = search.search(queries, 1)
            admitted, _ = gate(cohort, search.encodings, search.person_ids, queries, ids[:, 0], distances[:, 0],
                               threshold)
            acc[key].append(admitted & (ids[:, 0] == house.truth) if key == "admitted" else admitted)
    return pooled_figures(pooled), f"threshold and cohort (k={cohort.k}, alpha={cohort.alpha})"


def pooled_figures(pooled: dict[str, dict[str, list]]) -> dict:
    """Per group, from pooled boolean decisions: the figures of :func:`figures`."""
    table = {}
    for group in sorted(pooled):
        parts = {key: np.concatenate(value) for key, value in pooled[group].items()}
        table[group] = {"strangers_let_in": float(parts["strangers"].mean()) if parts["strangers"].size else None,
                        "other_groups_let_in": float(parts["others"].mean()),
                        "residents_admitted": float(parts["admitted"].mean()),
                        "stranger_probes": int(parts["strangers"].size),
                        "other_group_probes": int(parts["others"].size),
                        "resident_probes": int(parts["admitted"].size)}
    return table


def households_of(rows: Rows, pool: np.ndarray, encodings: np.ndarray, args: argparse.Namespace) -> list[Scored]:
    """Every group's households from ``pool``, scored."""
    groups = sorted(set(rows.groups[pool].tolist()))
    return [score(encodings, house) for group in groups
            for house in draw_households(rows, pool, group, args.draws, args.seed, args.household, args.enrolled)]


def evaluate(rows: Rows, encodings: np.ndarray, args: argparse.Namespace, card: dict,
             threshold_of: Callable[[str, int], float]) -> dict:
    """The report (see the module docstring): every operating point per group, and with ``args.rules`` the rules."""
    from facerec.operating_points import default_point, point_names

    held = households_of(rows, rows.held, encodings, args)
    points = operating_points(held, threshold_of, point_names(card), args.household * args.enrolled)
    default = default_point(card)
    groups, decision = door_default(held, encodings, card, threshold_of(default, args.household * args.enrolled))
    result = {"encoder": card.get("encoder", "dlib"), "default_operating_point": default, "decision": decision,
              "household": args.household, "enrolled_per_person": args.enrolled, "draws": args.draws,
              "seed": args.seed, "held_out_people": int(len(set(rows.people[rows.held].tolist()))),
              "groups": groups or points[default]["groups"], "summary": summary(groups or points[default]["groups"]),
              "operating_points": points}
    if args.rules:
        cohort_rows, pool = development_split(rows, args.seed)
        dev = households_of(rows, pool, encodings, args)
        result["cohort"] = {"encodings": int(cohort_rows.size),
                            "people": int(len(set(rows.people[cohort_rows].tolist()))),
                            "tuning_people": int(len(set(rows.people[pool].tolist()))),
                            "tune_target": TUNE_TARGET}
        queried = np.flatnonzero(rows.held | pool)
        row_scale = row_scales(encodings, queried, encodings[cohort_rows], KS)
        templates = tuple([centroid_scored(encodings, scored.house) for scored in houses] for houses in (dev, held))
        result["rules"] = rule_table(dev, held, encodings[cohort_rows], row_scale, templates)
        threshold = threshold_of(default, args.household * args.enrolled)
        result["rules"] += [{**row, "chosen": False}
                            for row in door_rules(dev, held, templates, encodings[cohort_rows], row_scale, threshold)]
        result["group_oracle"] = group_oracle(held)
        for row in result["rules"]:
            row["summary"], row["dev_summary"] = summary(row["groups"]), summary(row["dev"])
    return result


def markdown(result: dict) -> str:
    """The report as one Markdown table: a row per rule, a column per group.

    Each cell: same-group strangers let in / residents admitted (percent); the last column is the most
    other-group strangers let in over the groups.
    """
    groups = list(result["groups"])
    lines = ["| rule | " + " | ".join(groups) + " | other groups let in (max) |", "|---" * (len(groups) + 2) + "|"]
    blocks = [(f"global `{name}` ({point['threshold']:.3f})" + (" **door default**" if name ==
               result["default_operating_point"] else ""), point["groups"])
              for name, point in result["operating_points"].items()]
    blocks += [(f"{row['rule']} " + ", ".join(f"{k}={v}" for k, v in row["params"].items())
                + (" (chosen on dev)" if row["chosen"] else ""), row["groups"]) for row in result.get("rules", [])]
    if result.get("decision", "threshold") != "threshold":
        blocks = [(label.replace(" **door default**", " (door default before issue 23)"), table)
                  for label, table in blocks]
        blocks.insert(0, (f"**door default**: `{result['default_operating_point']}` {result['decision']}",
                          result["groups"]))
    if "group_oracle" in result:
        blocks.append(("bound: each group's own threshold at 2 % (not a rule)", result["group_oracle"]))
    for label, table in blocks:
        cells = [f"{100 * table[g]['strangers_let_in']:.1f} / {100 * table[g]['residents_admitted']:.1f}"
                 for g in groups]
        worst = max(table[g]["other_groups_let_in"] for g in groups)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {100 * worst:.2f} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=DRAWS, help=f"households per group (default {DRAWS})")
    parser.add_argument("--household", type=int, default=HOUSEHOLD, help=f"people per household ({HOUSEHOLD})")
    parser.add_argument("--enrolled", type=int, default=ENROLLED, help=f"photos enrolled per resident ({ENROLLED})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed of the households and the cohort ({SEED})")
    parser.add_argument("--encoder", default="dlib", choices=ENCODERS,
                        help="dlib (default), facenet, or their fusion dlib+facenet (calibrate both first)")
    parser.add_argument("--rules", action="store_true", help="also tune and measure the per-resident rules")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--markdown", default=None, metavar="RESULT_JSON",
                        help="print the table of a saved --json result as Markdown, and stop")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return 0
    if not 1 <= args.enrolled < 25 or args.household < 2 or args.draws < 1:
        print("door_groups: need 1 <= --enrolled < 25, --household >= 2, --draws >= 1", file=sys.stderr)
        return 2
    rows = load_rows()
    needed = np.ones(len(rows.paths), bool) if args.rules else rows.held
    encodings = bfw_encodings(rows, needed, not args.json, args.encoder)
    result = evaluate(rows, encodings, args, *encoder_card(args.encoder))
    print(json.dumps(result) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
