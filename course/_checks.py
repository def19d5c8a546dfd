"""Helpers shared by the public and hidden tests: calling a student's function, failing with hints.

Every test takes the student's function (``target``) and raises ``AssertionError``
whose message says what went wrong and, where a common mistake explains it, how
to fix it. References are computed with :mod:`course.solutions` and the model
passed in, so the tests hold for whichever weights are loaded.
"""

from __future__ import annotations

import contextlib
import functools
import io
import numbers
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from course import solutions
from facerec.encoder import default_threshold

PASSED = "All tests passed."


@dataclass
class Call:
    """What one call of a student's function did: its result, its printed text, its exception."""

    result: object = None
    printed: str = ""
    error: BaseException | None = None

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.printed.splitlines() if line.strip()]


def call(function: Callable, *args, **kwargs) -> Call:
    """Call ``function``, capturing what it prints and any exception (never raising)."""
    buffer = io.StringIO()
    outcome = Call()
    with contextlib.redirect_stdout(buffer):
        try:
            outcome.result = function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 (a student's bug is reported, not raised)
            outcome.error = error
    outcome.printed = buffer.getvalue()
    return outcome


def fail(function: Callable | str, what: str, hint: str = "") -> None:
    """Raise the ``AssertionError`` a student sees: ``<name>: <what>`` and a hint on the next line."""
    name = function if isinstance(function, str) else getattr(function, "__name__", "your function")
    raise AssertionError(f"{name}: {what}" + (f"\nHint: {hint}" if hint else ""))


def check_no_error(function: Callable, outcome: Call, call_text: str) -> None:
    """Fail when the call raised or returned ``None`` (an unfilled ``None`` placeholder)."""
    if outcome.error is not None:
        error = outcome.error
        hint = "fill in every `None` between ### START CODE HERE and ### END CODE HERE"
        if isinstance(error, NameError):
            hint = "use only the names imported in the notebook's first code cell, or import inside your cell"
        fail(function, f"{call_text} raised {type(error).__name__}: {error}", hint)
    if outcome.result is None:
        fail(function, f"{call_text} returned None",
             "fill in every `None` between ### START CODE HERE and ### END CODE HERE, and keep the return line")


def is_real(value: object) -> bool:
    """True for Python and numpy real scalars (and 0-d arrays), not for bools or tensors."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and np.issubdtype(value.dtype, np.floating)
    return isinstance(value, (numbers.Real, np.floating, np.integer))


def check_raises(function: Callable, args: tuple, error_type: type[Exception], call_text: str,
                 fragments: tuple[str, ...] = (), hint: str = "") -> None:
    """Fail unless ``function(*args)`` raises ``error_type`` whose message holds every fragment."""
    outcome = call(function, *args)
    if outcome.error is None:
        fail(function, f"{call_text} should raise {error_type.__name__}, but it returned {outcome.result!r}", hint)
    if not isinstance(outcome.error, error_type):
        fail(function, f"{call_text} should raise {error_type.__name__}, but it raised "
                       f"{type(outcome.error).__name__}: {outcome.error}", hint)
    missing = [fragment for fragment in fragments if fragment not in str(outcome.error)]
    if missing:
        fail(function, f"the {error_type.__name__} message of {call_text} should mention {', '.join(missing)}; "
                       f"it says: {outcome.error}", hint)


@functools.lru_cache(maxsize=256)
def reference_encoding(image_path: str, model) -> np.ndarray:
    """The reference ``img_to_encoding(image_path, model)``, computed once per image and model."""
    return solutions.img_to_encoding(image_path, model)


@functools.lru_cache(maxsize=8)
def _reference_database(model) -> tuple[tuple[str, np.ndarray], ...]:
    return tuple((name, reference_encoding(solutions.happy_house_image(name), model)) for name in solutions.RESIDENTS)


def reference_database(model) -> dict[str, np.ndarray]:
    """A fresh copy of the course's 12-resident database, encoded with the reference solution."""
    return {name: encoding.copy() for name, encoding in _reference_database(model)}


def reference_distance(image: str, identity: str, model) -> float:
    """L2 distance between a Happy House photo's encoding and a resident's, by the reference solution."""
    encoding = reference_encoding(solutions.happy_house_image(image), model)
    return float(np.linalg.norm(encoding - dict(_reference_database(model))[identity]))


def at_distances(encoding: np.ndarray, distances: dict[str, float], seed: int = 0) -> dict[str, np.ndarray]:
    """A database whose entry for each name lies exactly ``distances[name]`` (L2) from ``encoding``.

    Each entry is ``encoding + d * u`` with ``u`` a random unit vector (a different one per name).
    """
    rng = np.random.default_rng(seed)
    database = {}
    for name, distance in distances.items():
        direction = rng.normal(size=encoding.shape)
        direction /= np.linalg.norm(direction)
        database[name] = (encoding.astype(np.float64) + distance * direction).astype(np.float32)
    return database


@contextlib.contextmanager
def threshold_set_to(function: Callable, value: float) -> Iterator[None]:
    """Make ``default_threshold()`` (and a ``THRESHOLD`` global, if any) return ``value`` inside ``function``."""
    namespace = function.__globals__
    names = ("default_threshold", "THRESHOLD")
    saved = {name: namespace[name] for name in names if name in namespace}
    namespace["default_threshold"] = lambda *args, **kwargs: value
    if "THRESHOLD" in namespace:
        namespace["THRESHOLD"] = value
    try:
        yield
    finally:
        for name in names:
            namespace.pop(name, None)
        namespace.update(saved)


def threshold() -> float:
    """The model card's threshold (``default_threshold()``) of the weights in use."""
    return default_threshold()


def to_float(value: object) -> float:
    """A tensor or array scalar as a Python float."""
    if tf.is_tensor(value):
        value = value.numpy()
    return float(np.asarray(value).reshape(()))


_WHO_IS_IT = re.compile(r"^it's (?P<name>.+), the distance is (?P<dist>[-+0-9.eE]+)$")


def parse_who_is_it(line: str) -> tuple[str, float] | None:
    """``(name, distance)`` from a line ``"it's <name>, the distance is <distance>"``, else None."""
    match = _WHO_IS_IT.match(line.strip())
    if not match:
        return None
    try:
        return match["name"], float(match["dist"])
    except ValueError:
        return None
