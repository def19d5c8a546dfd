"""People's names: one rule, applied the same way on every path (API, command line, page).

A name is NFC-normalised and trimmed of surrounding white space, then must be 1 to
:data:`MAX_NAME_LENGTH` characters, with no control characters (``\\n``, ``\\x1b``, ...),
no bidirectional-override or -isolate marks (which make a name read differently
from what it is) and no ``/`` (it could not be part of a URL path).
"""

from __future__ import annotations

import unicodedata

from facerec.exceptions import InvalidArgument

MAX_NAME_LENGTH = 100
# Unicode's explicit directional formatting characters (UAX #9): embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def normalise_name(name: object) -> str:
    """``name`` as stored and looked up: NFC, surrounding white space removed (no validity check).

    Raises:
        InvalidArgument: ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise InvalidArgument(f"a person's name must be a string, got {type(name).__name__}")
    return unicodedata.normalize("NFC", name).strip()


def check_name(name: object) -> str:
    """The normalised name (:func:`normalise_name`), checked for enrollment.

    Returns:
        the name to store.

    Raises:
        InvalidArgument: empty, longer than :data:`MAX_NAME_LENGTH` characters, or holding a control
            character, a bidirectional mark or ``/``; the message says which (without echoing control
            characters).
    """
    clean = normalise_name(name)
    if not clean:
        raise InvalidArgument("a person's name must not be empty; give a name such as 'younes'")
    if len(clean) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"a person's name must be at most {MAX_NAME_LENGTH} characters, got {len(clean)}")
    for position, char in enumerate(clean):
        if char == "/":
            raise InvalidArgument("a person's name must not contain '/'; use another separator such as '-'")
        if char in BIDI_CONTROLS:
            raise InvalidArgument(f"a person's name must not contain bidirectional marks (U+{ord(char):04X} at "
                                  f"position {position + 1}); type the name without them")
        if unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn") or char in "\u2028\u2029":
            raise InvalidArgument(f"a person's name must not contain control or unassigned characters "
                                  f"(U+{ord(char):04X} at position {position + 1}); type the name without them")
    return clean


def printable_name(name: str) -> str:
    """``name`` safe to print on a terminal: control and bidirectional characters shown as ``\\uXXXX``."""
    return "".join(f"\\u{ord(c):04x}" if c in BIDI_CONTROLS or unicodedata.category(c) in ("Cc", "Cs")
                   else c for c in name)
