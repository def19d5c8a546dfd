"""What the door's cohort rule adds to one decision's time: :func:`facerec.cohort.gate` against the search.

One query at a time (a door), against galleries of 12, 211 and 2,000 people x 3 encodings (random 128-d
encodings: the time does not depend on the faces), with dlib's shipped cohort. Prints one JSON object: per
gallery, the median microseconds of ``ExactSearch.search(query, 1)`` and of ``gate(...)`` for the same query, and
their ratio. Usage: ``python benchmarks/cohort_cost.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

import numpy as np


def median_us(function, repeats: int) -> float:
    """Median wall time of ``function()`` in microseconds over ``repeats`` calls (after one warm-up call)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e6)


def main(argv: list[str] | None = None) -> int:
    from facerec.cohort import encoder_cohort, gate
    from facerec.encoders.dlib_resnet import model_card
    from facerec.search import ExactSearch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per measurement (200)")
    args = parser.parse_args(argv)

    class Card:
        def card(self) -> dict:
            return model_card()

    cohort = encoder_cohort(Card())
    rng = np.random.default_rng(0)
    result = {"cohort_encodings": int(len(cohort.encodings)), "k": cohort.k, "galleries": {}}
    for people in (12, 211, 2000):
        gallery = (rng.normal(size=(people * 3, 128)) * 0.05).astype(np.float32)
        ids = np.repeat(np.arange(people), 3)
        search = ExactSearch(gallery, ids)
        query = (rng.normal(size=(1, 128)) * 0.05).astype(np.float32)
        distances, nearest = search.search(query, 1)
        searched = median_us(partial(search.search, query, 1), args.repeats)
        gated = median_us(partial(gate, cohort, search.encodings, search.person_ids, query, nearest[:, 0],
                                  distances[:, 0], 1.0), args.repeats)
        result["galleries"][people] = {"search_us": round(searched, 1), "gate_us": round(gated, 1),
                                       "gate_over_search": round(gated / searched, 2)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
