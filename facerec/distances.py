"""Distances between encodings of any width, made of one or more L2 blocks.

An encoder's encoding is ``D`` float32 numbers laid out in *blocks* (its ``blocks``: widths summing
to ``D``). The distance between two encodings is the sum over blocks of each block's L2 distance.
One block is the plain L2 distance (``dlib``, ``nn4``: ``(128,)``); the fused ``dlib+facenet`` encoder
has two, ``(128, 512)``: each part pre-divided by its median LFW View 1 impostor distance, so its
distance is ``d_dlib / m_dlib + d_facenet / m_facenet``, the fusion measured in MODEL_CARD.md.

Since ``sqrt(B) * L2 >= sum of the B block distances >= L2`` (Cauchy-Schwarz), an L2 search that
returns every row within ``sqrt(B)`` times the L2 distance of its ``m``-th nearest row holds the ``m``
nearest rows by block distance (:mod:`facerec.search` uses this for FAISS).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facerec.exceptions import InvalidArgument

ENCODING_SIZE = 128  # the width of nn4's and dlib's encodings, and of every database made before wider ones


def check_blocks(blocks: Sequence[int] | None, size: int) -> tuple[int, ...]:
    """``blocks`` as a tuple, checked to be positive widths summing to ``size``; ``None`` is one block.

    Raises:
        InvalidArgument: the widths are not positive integers summing to ``size``.
    """
    if blocks is None:
        return (int(size),)
    widths = tuple(int(width) for width in blocks)
    if not widths or min(widths) < 1 or sum(widths) != size:
        raise InvalidArgument(f"encoding blocks {list(blocks)} do not add up to the encodings' width {size}")
    return widths


def parse_blocks(text: str | None) -> tuple[int, ...] | None:
    """Blocks stored as text (``"128+512"``, a database's ``encoding_blocks``); ``None`` for ``None``."""
    if text is None:
        return None
    try:
        return tuple(int(part) for part in str(text).split("+"))
    except ValueError as error:
        raise InvalidArgument(f"encoding blocks {text!r} are not widths joined by '+'") from error


def format_blocks(blocks: Sequence[int]) -> str:
    """Blocks as text, the inverse of :func:`parse_blocks`."""
    return "+".join(str(int(width)) for width in blocks)


def block_distance(a: np.ndarray, b: np.ndarray, blocks: Sequence[int] | None = None) -> np.ndarray:
    """Distances between rows of ``a`` and ``b`` (broadcast), shape ``a.shape[:-1]`` broadcast with ``b``'s.

    Args:
        a, b: ``(..., D)`` encodings; blocks: widths summing to ``D`` (default one block: plain L2).
    """
    difference = np.asarray(a) - np.asarray(b)
    blocks = check_blocks(blocks, difference.shape[-1])
    if len(blocks) == 1:
        return np.linalg.norm(difference, axis=-1)
    edges = np.cumsum((0,) + blocks)
    return sum(np.linalg.norm(difference[..., s:e], axis=-1) for s, e in zip(edges[:-1], edges[1:]))


def pairwise_distances(queries: np.ndarray, gallery: np.ndarray, blocks: Sequence[int] | None = None) -> np.ndarray:
    """``(Q, N)`` float64 distances from each query ``(Q, D)`` to each gallery row ``(N, D)`` (matrix products)."""
    queries = np.asarray(queries, np.float64)
    gallery = np.asarray(gallery, np.float64)
    blocks = check_blocks(blocks, gallery.shape[1])
    edges = np.cumsum((0,) + blocks)
    out = np.zeros((len(queries), len(gallery)))
    for start, end in zip(edges[:-1], edges[1:]):
        q, g = queries[:, start:end], gallery[:, start:end]
        squared = np.sum(q * q, axis=1)[:, None] - 2 * q @ g.T + np.sum(g * g, axis=1)[None]
        out += np.sqrt(np.maximum(squared, 0.0))
    return out
