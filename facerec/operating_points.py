"""Operating points: which L2 distance counts as "the same person", chosen by the risk it promises.

Every number comes from the encoder's model card (``weights/model.json`` for
``nn4``, ``facerec/encoders/dlib_resnet.json`` for ``dlib``), computed by
:mod:`facerec.training.calibrate` on development data only (LFW View 1, never
``pairs.txt``). Three kinds of operating point:

* **pair points** (``balanced``, ``far-1e-2``, ``far-1e-3``): thresholds for one
  comparison of two photos. ``balanced`` is the best-accuracy threshold of
  View 1's listed pairs; ``far-X`` accepts a fraction X of different-person
  pairs (a quantile of the impostor distances of every different-person pair of
  View 1's photos). ``far=`` takes any rate, read from the same quantile table.
* **gallery points** (``false-alarm-1e-2``, ...): a promise about strangers. A
  stranger compared with ``N`` enrolled encodings gets ``N`` chances; the
  threshold is the impostor quantile ``p = 1 - (1 - a) ** (1 / N)``, so that a
  stranger is accepted as *someone* with probability at most ``a`` if the ``N``
  distances were independent (they are positively dependent, which makes the
  real rate lower). ``N`` is the number of encodings compared: all of the
  database's for identification, the claimed person's for verification.
  ``benchmarks/identify_lfw.py`` checks the promise on LFW.
* a raw ``threshold`` (an L2 distance), as before.

The card's ``default_operating_point`` is what ``verify``, ``identify`` and the
door use when told nothing (``false-alarm-1e-2``: at most 1 % of strangers let in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facerec.exceptions import InvalidArgument, WeightsError


@dataclass(frozen=True)
class Threshold:
    """A decision threshold and where it came from.

    Attributes:
        value: the L2 distance; accept when ``distance <= value``.
        operating_point: its name (``"balanced"``, ``"far-1e-2"``, ``"false-alarm-1e-2"``,
            ``"far=0.005"``, ``"false-alarm=0.02"`` or ``"threshold"`` for a raw value).
        gallery_size: encodings the gallery point was derived for (``None`` for other kinds).
    """

    value: float
    operating_point: str
    gallery_size: int | None = None

    def describe(self) -> str:
        """One line for people: ``"0.462 (false-alarm-1e-2 for 36 encodings)"``."""
        extra = f" for {self.gallery_size} encoding(s)" if self.gallery_size is not None else ""
        return f"{self.value:.3f} ({self.operating_point}{extra})"


def _points(card: dict) -> dict:
    points = card.get("operating_points")
    if not isinstance(points, dict) or "balanced" not in points:
        raise WeightsError(f"the {card.get('encoder', 'encoder')}'s model card has no operating points; "
                           "rerun python -m facerec.training.calibrate")
    return points


def point_names(card: dict) -> list[str]:
    """Every named operating point of a card: pair points, then gallery points."""
    return list(_points(card)) + list(card.get("gallery_operating_points", {}))


def impostor_quantile(card: dict, p: float) -> float:
    """The L2 distance below which a fraction ``p`` of different-person pairs fall (development data).

    Interpolated log-linearly in ``p`` in the card's table; below the table's
    smallest ``p`` the smallest tabulated distance is returned (the stricter side).
    """
    table = card.get("impostor_distances")
    if not table:
        raise WeightsError(f"the {card.get('encoder', 'encoder')}'s model card has no impostor distance table; "
                           "rerun python -m facerec.training.calibrate")
    ps, distances = np.asarray(table["p"], np.float64), np.asarray(table["distance"], np.float64)
    if not 0 < p < 1:
        raise InvalidArgument(f"a false-accept rate must be in (0, 1), got {p}")
    if p > ps[-1]:
        raise InvalidArgument(f"a false-accept rate above {ps[-1]} is not an operating point anyone should use")
    return float(np.interp(math.log(max(p, ps[0])), np.log(ps), distances))


def gallery_threshold(card: dict, false_alarm: float, gallery_size: int) -> float:
    """The threshold at which a stranger matches any of ``gallery_size`` encodings with probability ``false_alarm``."""
    if not 0 < false_alarm < 1:
        raise InvalidArgument(f"a false-alarm rate must be in (0, 1), got {false_alarm}")
    if gallery_size < 1:
        raise InvalidArgument(f"a gallery needs at least one encoding, got {gallery_size}")
    per_pair = -math.expm1(math.log1p(-false_alarm) / gallery_size)  # 1 - (1 - a) ** (1 / N), accurately
    return impostor_quantile(card, per_pair)


def _named(card: dict, name: str, gallery_size: int | None) -> Threshold:
    points = _points(card)
    if name in points:
        return Threshold(float(points[name]["threshold"]), name)
    gallery_points = card.get("gallery_operating_points", {})
    if name in gallery_points:
        size = _require_size(gallery_size, name)
        return Threshold(gallery_threshold(card, float(gallery_points[name]["false_alarm"]), size), name, size)
    raise InvalidArgument(f"unknown operating point {name!r}; this encoder's model card has "
                          f"{', '.join(point_names(card))}")


def _require_size(gallery_size: int | None, name: str) -> int:
    if gallery_size is None:
        raise InvalidArgument(f"operating point {name} depends on the gallery: give the number of enrolled encodings")
    return int(gallery_size)


def resolve(card: dict, threshold: float | None = None, operating_point: str | None = None,
            far: float | None = None, false_alarm: float | None = None,
            gallery_size: int | None = None) -> Threshold:
    """The decision threshold asked for (at most one of the four ways), else the card's default point.

    Args:
        card: an encoder's model card (``encoder.card()``).
        threshold: a raw L2 distance.
        operating_point: a named point of the card (see :func:`point_names`).
        far: a pair false-accept rate, e.g. ``1e-3``.
        false_alarm: a stranger false-alarm rate for this gallery, e.g. ``0.01``.
        gallery_size: encodings a stranger is compared with (needed by gallery points).

    Raises:
        InvalidArgument: more than one way given, an unknown name, a rate out of range.
    """
    given = [kind for kind, value in (("threshold", threshold), ("operating point", operating_point),
                                      ("far", far), ("false alarm", false_alarm)) if value is not None]
    if len(given) > 1:
        raise InvalidArgument(f"give one of threshold, operating point, far, false alarm; got {' and '.join(given)}")
    if threshold is not None:
        if not np.isfinite(threshold) or threshold < 0:
            raise InvalidArgument(f"threshold must be a non-negative L2 distance, got {threshold}")
        return Threshold(float(threshold), "threshold")
    if far is not None:
        return Threshold(impostor_quantile(card, float(far)), f"far={far:g}")
    if false_alarm is not None:
        size = _require_size(gallery_size, "false alarm")
        return Threshold(gallery_threshold(card, float(false_alarm), size), f"false-alarm={false_alarm:g}", size)
    return _named(card, operating_point or default_point(card), gallery_size)


def default_point(card: dict) -> str:
    """The card's ``default_operating_point`` (``balanced`` for an old card without one)."""
    return str(card.get("default_operating_point", "balanced"))
