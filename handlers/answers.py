"""Reading a model's answer with bounds: JSON no deeper than asked, no NaN or Infinity,
no thousand-digit numbers, and a duration only when it is plausible.

Shared by the inference handler (what it makes of the endpoint's answer) and the edge
(what it makes of the handler's answer), so a participant sees in testing the same
verdict the edge will give. Standard library only.
"""

from __future__ import annotations

import json
import math
from typing import Any

# A plausible duration, ms: positive and under about 2.8 hours (real ones are seconds).
# The bound also keeps every squared error, and a minute's sums of them, far inside
# DynamoDB's numbers (at most 38 significant digits, magnitude under 1e126).
PLAUSIBLE_MS = (0.0, 1e7)
MAX_NUMBER_CHARS = 40  # digits of one JSON integer; a float's repr needs at most 24


class AnswerError(ValueError):
    """An answer that is not what it should be; the message says why."""


def depth(text: str) -> int:
    """How deeply JSON text nests objects and arrays (strings skipped), in one pass, so
    that a deeply nested answer is refused before the parser recurses into it."""
    level = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def _no_constants(name: str):
    raise AnswerError(f"{name} is not a number")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise AnswerError(f"a {len(text)}-digit number")
    return int(text)


def loads(text: str, max_depth: int) -> Any:
    """json.loads with bounds; raises AnswerError with the reason."""
    if depth(text) > max_depth:
        raise AnswerError(f"the answer nests deeper than {max_depth}")
    try:
        return json.loads(text, parse_constant=_no_constants, parse_int=_bounded_int)
    except AnswerError:
        raise
    except (ValueError, RecursionError) as error:
        raise AnswerError(f"not JSON: {str(error)[:80]}") from None


def duration(value: Any) -> float:
    """A prediction as a plausible duration in ms, or AnswerError."""
    if isinstance(value, bool) or value is None:
        raise AnswerError("no prediction in the answer")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise AnswerError(f"the prediction is not a number: {str(value)[:20]!r}") from None
    low, high = PLAUSIBLE_MS
    if not math.isfinite(number):
        raise AnswerError(f"the prediction is not finite: {number}")
    if not low < number < high:
        raise AnswerError(f"the prediction {number:g} ms is outside the plausible "
                          f"({low:g}, {high:g}) ms")
    return number
