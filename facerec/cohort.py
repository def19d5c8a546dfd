"""The door's stranger promise in every demographic group: score normalisation against a cohort (issue 23).

One global threshold lets in 0.2 % of a white household's same-group strangers and 74 % of an Asian
woman's (MODEL_CARD.md, "Door promise per demographic group"): an encoder packs some groups' faces
closer together than others. The **cohort rule** asks, without knowing anyone's group, how close a
probe is to a resident *compared with how close both of them are to strangers*:

    score = d(probe, template) / sqrt(s(template) * s(probe))

where the resident's ``template`` is the mean of their enrolled encodings, ``d`` the encoder's distance
(L2; for a fused encoder the sum of its blocks' L2 distances, :mod:`facerec.distances`) and
``s(x)`` the mean of ``x``'s ``k`` nearest distances to a **cohort** of stranger encodings (balanced
over BFW's 8 groups, from its development people only; never its 200 held-out people, never LFW).
A face in a crowded part of the space (many look-alikes) has a small ``s`` and needs a much smaller
distance to pass. The door admits the nearest resident (by closest enrolled photo, as before) only
when the gallery point's threshold holds **and** ``score <= alpha``; ``alpha`` was tuned on BFW
development households so that at most 1.5 % of every group's same-group strangers get in.

The cohort, ``k`` and ``alpha`` come from the encoder's model card (field ``cohort``: file, sha256,
k, alpha, licence, provenance), written by ``python -m facerec.training.cohort``. Known strangers (the
door's reviewed visits) can be added as extra cohort rows: :meth:`Cohort.with_extra`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facerec.distances import block_distance, pairwise_distances
from facerec.exceptions import WeightsError

BATCH = 1024  # queries per distance matrix (bounds memory to BATCH * cohort floats)


@dataclass(frozen=True)
class Cohort:
    """Stranger encodings and the rule's parameters.

    Attributes:
        encodings: ``(M, D)`` float32 stranger encodings (``M >= k``).
        k: nearest cohort distances averaged into each scale.
        alpha: admit when the normalised score is at most this.
        name: where it came from (the card's file name, plus ``+N known`` with extra rows).
        blocks: the encodings' block widths (the card's ``blocks``; ``None``: one block, plain L2), so that
            every distance here is the encoder's own (:mod:`facerec.distances`).
    """

    encodings: np.ndarray
    k: int
    alpha: float
    name: str = "cohort"
    blocks: tuple[int, ...] | None = None

    def with_extra(self, extra: np.ndarray | None) -> Cohort:
        """This cohort with ``extra`` ``(N, D)`` stranger encodings added (e.g. the door's known strangers)."""
        if extra is None or len(extra) == 0:
            return self
        extra = np.asarray(extra, np.float32).reshape(len(extra), -1)
        if extra.shape[1] != self.encodings.shape[1]:
            raise WeightsError(f"extra cohort encodings are {extra.shape[1]}-d, the cohort's are "
                               f"{self.encodings.shape[1]}-d: give encodings of the same encoder")
        return replace(self, encodings=np.concatenate([self.encodings, extra]), name=f"{self.name}+{len(extra)} known")

    def _prepared(self) -> tuple[np.ndarray, np.ndarray]:
        """The cohort as float64 and its squared norms, computed once per cohort."""
        if "_float64" not in self.__dict__:
            cohort = self.encodings.astype(np.float64)
            object.__setattr__(self, "_float64", (cohort, np.einsum("ij,ij->i", cohort, cohort)))
        return self.__dict__["_float64"]

    def scales(self, encodings: np.ndarray) -> np.ndarray:
        """``(Q,)``: each encoding's mean distance to its ``k`` nearest cohort encodings."""
        encodings = np.asarray(encodings, np.float64).reshape(len(encodings), -1)
        cohort, norms = self._prepared()
        out = np.empty(len(encodings))
        for start in range(0, len(encodings), BATCH):
            q = encodings[start:start + BATCH]
            if self.blocks is not None and len(self.blocks) > 1:
                nearest = np.partition(pairwise_distances(q, cohort, self.blocks), self.k - 1, axis=1)[:, :self.k]
                out[start:start + BATCH] = nearest.mean(axis=1)
                continue
            d2 = np.sum(q * q, axis=1)[:, None] - 2 * q @ cohort.T + norms[None]
            nearest = np.partition(np.maximum(d2, 0), self.k - 1, axis=1)[:, :self.k]
            out[start:start + BATCH] = np.sqrt(nearest).mean(axis=1)
        return out

    def scores(self, queries: np.ndarray, templates: np.ndarray) -> np.ndarray:
        """``(Q,)``: ``d(query_i, template_i) / sqrt(s(template_i) * s(query_i))`` (see the module docstring)."""
        queries = np.asarray(queries, np.float64)
        templates = np.asarray(templates, np.float64)
        distance = block_distance(queries, templates, self.blocks)
        with np.errstate(divide="ignore", invalid="ignore"):  # a cohort row on the face itself: scale 0, refused
            scores = distance / np.sqrt(self.scales(templates) * self.scales(queries))
        return np.where(np.isnan(scores), np.inf, scores)


def templates_of(gallery: np.ndarray, person_ids: np.ndarray, people: np.ndarray) -> np.ndarray:
    """``(len(people), D)``: each person's template, the mean of their rows of ``gallery``."""
    gallery = np.asarray(gallery, np.float64)
    person_ids = np.asarray(person_ids)
    return np.stack([gallery[person_ids == person].mean(axis=0) for person in np.asarray(people).ravel()])


def gate(cohort: Cohort | None, gallery: np.ndarray, person_ids: np.ndarray, queries: np.ndarray,
         nearest: np.ndarray, distances: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The door's decision for each query's nearest person: ``(admitted (Q,), scores (Q,) or None)``.

    Args:
        cohort: the encoder's cohort rule, or ``None`` (the threshold alone, the rule before issue 23).
        gallery: ``(N, D)`` enrolled encodings; person_ids: ``(N,)`` the person of each row.
        queries: ``(Q, D)`` encodings; nearest: ``(Q,)`` the person id nearest each query (closest photo).
        distances: ``(Q,)`` the distance to that person's closest photo; threshold: the gallery point's.
    """
    within = np.asarray(distances, np.float64) <= threshold
    if cohort is None or len(queries) == 0:
        return within, None
    scores = cohort.scores(queries, templates_of(gallery, person_ids, nearest))
    return within & (scores <= cohort.alpha), scores


def card_cohort(card: dict, directory: Path) -> Cohort | None:
    """The cohort rule of an encoder's model card (``None`` when the card has none).

    Args:
        card: the model card; directory: where the card lives (the cohort file is beside it).

    Raises:
        WeightsError: the cohort file is missing or its SHA-256 differs from the card's.
    """
    entry = card.get("cohort")
    if not entry:
        return None
    path = Path(directory) / entry["file"]
    remedy = "reinstall facerec or rebuild it with python -m facerec.training.cohort"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WeightsError(f"the cohort {path} cannot be read ({error}); {remedy}") from error
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise WeightsError(f"the cohort {path} does not match its model card's sha256; {remedy}")
    with np.load(path, allow_pickle=False) as npz:
        encodings = npz["encodings"].astype(np.float32)
    blocks = tuple(card["blocks"]) if card.get("blocks") else None
    return Cohort(encodings, int(entry["k"]), float(entry["alpha"]), entry["file"], blocks)


def encoder_cohort(encoder) -> Cohort | None:
    """The cohort rule of an encoder (from its card; ``None`` for an encoder without one, e.g. nn4)."""
    card = encoder.card()
    if not card.get("cohort"):
        return None
    directory = Path(getattr(encoder, "card_dir", None) or Path(__file__).parent / "encoders")
    return _cached(card["cohort"]["file"], card["cohort"]["sha256"], str(directory), card)


_CACHE: dict[tuple[str, str, str], Cohort | None] = {}


def _cached(file: str, sha: str, directory: str, card: dict) -> Cohort | None:
    key = (file, sha, directory)
    if key not in _CACHE:
        _CACHE[key] = card_cohort(card, Path(directory))
    return _CACHE[key]


def promise(card: dict, people: int) -> dict | None:
    """The stranger rate measured for the default decision at a gallery of ``people`` (from the card).

    The card's ``cohort.promise`` lists measurements (``people``, ``strangers_let_in``, ``per_group``,
    ``measured_by``): per demographic group (the worst of BFW's 8) for households, and on LFW for larger
    galleries. The entry used is the smallest measured gallery at least as large, else the largest.

    Returns:
        ``{"strangers_per_100", "people_measured", "text"}``, or ``None`` when the card has no measurement.
    """
    entries = sorted((card.get("cohort") or {}).get("promise", []), key=lambda entry: entry["people"])
    if not entries:
        return None
    entry = next((e for e in entries if e["people"] >= people), entries[-1])
    per_100 = float(f"{100 * entry['strangers_let_in']:.1g}")
    where = (f"the worst of 8 demographic groups, measured with households of {entry['people']}"
             if entry["per_group"] else f"measured on LFW with {entry['people']} people, not per group")
    beyond = "" if entry["people"] >= people else f"; this gallery ({people} people) is larger than any measured"
    text = f"about {per_100:g} in 100 strangers of any group would be let in at this gallery ({where}{beyond})"
    return {"strangers_per_100": per_100, "people_measured": int(entry["people"]), "text": text}
