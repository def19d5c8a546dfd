"""Encoders' model cards: the JSON files beside their modules (provenance, licences, operating points)."""

from __future__ import annotations

import json
from pathlib import Path

from facerec.exceptions import WeightsError


def read_card(path: Path, remedy: str) -> dict:
    """The model card at ``path``, checked to hold at least the ``balanced`` operating point.

    Args:
        path: the card's JSON file.
        remedy: what to do when it is missing or broken (ends the error message).

    Raises:
        WeightsError: the file is missing, not JSON, or lacks ``operating_points.balanced.threshold``.
    """
    try:
        card = json.loads(Path(path).read_text())
        card["operating_points"]["balanced"]["threshold"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"{path} is not a valid model card ({type(error).__name__}: {error}); {remedy}") from error
    return card
