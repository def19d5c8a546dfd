"""Encodings wider than 128 floats in either engine's ``faces`` table (issue 23, item 6).

A database records the width of its encodings when it is not 128: ``meta`` rows ``encoding_size``
(floats per encoding, e.g. ``640``) and ``encoding_blocks`` (the encoder's block widths joined by
``+``, e.g. ``128+512``: how distances are computed, :mod:`facerec.distances`), and its ``faces``
table is created with ``CHECK (length(encoding) = 4 * size)``. A 128-d database has neither row and
the schema it always had, byte for byte: no migration. Encodings of another width than the
database's are refused with :class:`~facerec.exceptions.EncodingSizeMismatch`.

:class:`EncodingWidth` is mixed into :class:`facerec.database.FaceDatabase` (and so into both engines, its
subclasses: :mod:`facerec.stores.sqlite`, :mod:`facerec.stores.postgres`); each engine calls its hooks where it
creates its schema and writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from facerec.distances import ENCODING_SIZE, format_blocks, parse_blocks
from facerec.exceptions import EncodingSizeMismatch

SIZE_KEY = "encoding_size"
BLOCKS_KEY = "encoding_blocks"
NARROW = (ENCODING_SIZE,)
_NARROW_CHECK = f"length(encoding) = {4 * ENCODING_SIZE})"


def faces_schema(statement: str, blocks: Sequence[int]) -> str:
    """A ``CREATE TABLE faces`` statement with its encoding-length check set for ``blocks`` (128-d: unchanged)."""
    return statement.replace(_NARROW_CHECK, f"length(encoding) = {4 * sum(blocks)})")


def width_meta(blocks: Sequence[int]) -> list[tuple[str, str]]:
    """The ``meta`` rows recording ``blocks``: none for the 128-d single block."""
    blocks = tuple(blocks)
    return [] if blocks == NARROW else [(SIZE_KEY, str(sum(blocks))), (BLOCKS_KEY, format_blocks(blocks))]


def blocks_of_meta(rows: Iterable[tuple[str, str]]) -> tuple[int, ...]:
    """The blocks recorded in ``meta`` rows (``(key, value)``), 128-d when none are."""
    return parse_blocks(dict(rows).get(BLOCKS_KEY)) or NARROW


def encoder_blocks(name: str | None) -> tuple[int, ...]:
    """The block widths of the encoder called ``name`` (None: the default encoder's)."""
    from facerec.encoders import DEFAULT_ENCODER, ENCODER_BLOCKS

    return tuple(ENCODER_BLOCKS.get(name or DEFAULT_ENCODER, NARROW))


class EncodingWidth:
    """The width of a face database's encodings (mixed into :class:`facerec.database.FaceDatabase`)."""

    _pending_blocks: tuple[int, ...] | None = None  # set before the first write creates the schema

    @property
    def encoding_blocks(self) -> tuple[int, ...]:
        """The block widths of the stored encodings (``(128,)`` for dlib and nn4 databases)."""
        if not self._is_ready():
            return self._pending_blocks or encoder_blocks(self._pending_encoder)
        return parse_blocks(self._meta(BLOCKS_KEY)) or NARROW

    @property
    def encoding_size(self) -> int:
        """Floats per stored encoding (128 unless the database was made with a wider encoder)."""
        return sum(self.encoding_blocks)

    def _prepare_width(self, encoder: str | None) -> None:
        """Before a write: a database not created yet will hold ``encoder``'s width."""
        if not self._is_ready() and self._pending_blocks is None:
            self._pending_blocks = encoder_blocks(encoder or self._pending_encoder)

    def _check_width(self, encoder: str | None, records: Sequence) -> None:
        """Refuse encodings (or an encoder) of another width than the database's.

        Raises:
            EncodingSizeMismatch: the encoder's blocks, or an encoding's length, differ from the database's.
        """
        mine = self.encoding_blocks
        theirs = encoder_blocks(encoder) if encoder else mine
        widths = {int(np.asarray(record.encoding).size) for record in records}
        if theirs != mine or widths - {sum(mine)}:
            got = f"{encoder} encodings ({format_blocks(theirs)})" if theirs != mine else \
                f"encodings of {sorted(widths - {sum(mine)})} floats"
            raise EncodingSizeMismatch(
                f"database {self.path} holds {sum(mine)}-d encodings ({format_blocks(mine)}), and this call "
                f"brings {got}; leave out --encoder (facerec then uses the database's own encoder), or enroll "
                "the people into a new database made with that encoder")
