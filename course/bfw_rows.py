"""Which BFW rows the course's optional sections use, and reading them quickly from the aligned HDF5 file.

Both the training section (:mod:`course.triplet_training`) and the siamese section
(:mod:`course.siamese`, which builds on the training section's features) read their faces through here.
"""

from __future__ import annotations

import numpy as np


def sample_rows(groups: np.ndarray, labels: np.ndarray, identities: int, photos: int) -> np.ndarray:
    """Rows of the first ``identities / 8`` people of each of BFW's 8 groups, their first ``photos`` photos.

    Rows are sorted by group, then person (as in ``datasets/bfw_aligned.h5``), so each group's
    people are one contiguous block; the result is sorted.
    """
    rows = []
    for group in np.unique(groups):
        in_group = np.flatnonzero(groups == group)
        people = list(dict.fromkeys(labels[in_group]))[:identities // 8]  # first appearance order
        rows.extend(row for person in people for row in in_group[labels[in_group] == person][:photos])
    return np.array(sorted(rows))


def read_rows(dataset, rows: np.ndarray, gap: int = 64) -> np.ndarray:
    """``dataset[rows]`` for sorted rows, reading each run of nearby rows as one slice (h5py's
    fancy indexing reads chunk by chunk, row by row: much slower)."""
    breaks = np.flatnonzero(np.diff(rows) > gap) + 1
    parts = []
    for run in np.split(rows, breaks):
        parts.append(dataset[run[0]:run[-1] + 1][run - run[0]])
    return np.concatenate(parts)
