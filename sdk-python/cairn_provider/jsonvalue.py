"""JSON values as the host sees them.

Specs, states and field values are plain Python values here (`dict`,
`list`, `str`, `int`, `float`, `bool`, `None`), and JSON text on the wire.
The host reads that text with Rust's `serde_json`, so two things must
follow its rules rather than Python's: how a number is written (an id made
of a number must be the host's id to the character) and which values are
equal (`True` is not `1`, `1` is not `1.0`).
"""

from __future__ import annotations

import json
import math
from typing import Any

#: The integers `serde_json` keeps as integers (`i64` and `u64`); it reads
#: one outside this range as a 64-bit float, and writes it as such.
SMALLEST_INTEGER = -(2**63)
LARGEST_INTEGER = 2**64 - 1

#: Beyond these decimal exponents `serde_json` (which writes floats with the
#: Ryu algorithm) switches to scientific notation: it writes a float
#: `d.ddd x 10^(k-1)` whole when `-5 < k <= 16`.
PLAIN_EXPONENT_LOW = -5
PLAIN_EXPONENT_HIGH = 16


class NotJson(ValueError):
    """A value that has no JSON form (a set, an object, NaN, infinity)."""


#: The encoder of `dumps`, made once: `json.dumps` with options builds a
#: new `JSONEncoder` for every value, and a call converts a thousand.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

#: The scanner of `json.loads` (the C one where there is one), called
#: directly by `loads`: `json.loads` goes through two Python functions and
#: two regular-expression matches before it, for every value.
_SCAN = json.JSONDecoder().scan_once


def dumps(value: Any) -> str:
    """The compact JSON text of `value`, as the host writes it: no spaces,
    non-ASCII characters as they are. Raises `NotJson` for a value JSON
    cannot hold."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as error:
        raise NotJson(str(error)) from None


def loads(text: str) -> Any:
    """The value of the JSON `text`. Raises `NotJson` when it is not JSON."""
    # The host's text (serde_json's, without whitespace around the value)
    # is scanned whole at once; anything else (whitespace, a BOM, bytes,
    # text that is not JSON) takes `json.loads`, which reads or refuses it
    # with its own message.
    try:
        value, end = _SCAN(text, 0)
    except Exception:  # noqa: BLE001 (json.loads says what is wrong)
        pass
    else:
        if end == len(text):
            return value
    try:
        return json.loads(text)
    except ValueError as error:
        raise NotJson(str(error)) from None


def is_number(value: Any) -> bool:
    """Whether `value` is a JSON number (`bool` is not one, although Python
    counts it as an `int`)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_text(value: int | float) -> str:
    """`value` written as `serde_json` writes it: an integer in its 64-bit
    range as digits, anything else as the shortest float that reads back
    the same, in Ryu's layout (`1.0`, `0.00001`, `1e16`, `1.5e-7`)."""
    if isinstance(value, int) and SMALLEST_INTEGER <= value <= LARGEST_INTEGER:
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        raise NotJson(f"{value!r} is not a JSON number")
    return _float_text(number)


def _float_text(number: float) -> str:
    """Ryu's layout of a finite float, from Python's shortest repr (the same
    digits: both give the shortest string that reads back exactly)."""
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    number = abs(number)
    if number == 0.0:
        return sign + "0.0"
    mantissa, _, exponent = repr(number).partition("e")
    whole, _, fraction = mantissa.partition(".")
    written = whole + fraction
    significant = written.lstrip("0")
    # The value is 0.DIGITS x 10^k: `k` is where the point goes in DIGITS.
    k = len(whole) + int(exponent or 0) - (len(written) - len(significant))
    digits = significant.rstrip("0")
    length = len(digits)
    if length <= k <= PLAIN_EXPONENT_HIGH:
        return f"{sign}{digits}{'0' * (k - length)}.0"
    if 0 < k <= PLAIN_EXPONENT_HIGH:
        return f"{sign}{digits[:k]}.{digits[k:]}"
    if PLAIN_EXPONENT_LOW < k <= 0:
        return f"{sign}0.{'0' * -k}{digits}"
    mantissa_text = digits if length == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{sign}{mantissa_text}e{k - 1}"


def equal(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same, as the host compares them:
    types must match (`True` is not `1`, `1` is not `1.0`), and in an object
    a `null` field and an absent one are alike."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            if not equal(a.get(key), b.get(key)):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    return a == b
