"""The result digest: one canonical fingerprint of released rows, for every release kind.

An audit entry records ``result_digest`` for each release (row releases, exact
aggregates, differentially private aggregates, replays of a stored DP answer).
A recipient holding the columns and rows of a response can recompute it and,
with the receipt, prove that what they hold is what the log says was released.

Definition (version 1)::

    result_digest = lowercase hex SHA-256( UTF-8( JCS( [columns, rows] ) ) )

where ``columns`` is the list of column names and ``rows`` the list of rows (each
a list of values, in column order), exactly as the response carries them, and
JCS is the JSON Canonicalization Scheme of RFC 8785:

* no whitespace; strings as UTF-8 with only ``"``, ``\\`` and control
  characters escaped (``\\b \\t \\n \\f \\r``, others as ``\\u00xx``);
* ``null``, ``true``, ``false``; integers in decimal;
* other numbers as ECMAScript's ``Number.prototype.toString`` writes them
  (shortest text that round-trips: ``0.1``, ``1e+21``, ``1.5e-7``; an integral
  float such as ``3.0`` is ``3``). NaN and infinities are refused.

The outer value is an array, so no object key ordering is involved. Any JSON
library can rebuild this from a parsed response; docs/audit.md gives a
ten-line Python recipe.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

__all__ = ["jcs_number", "result_digest", "result_digest_text"]


def result_digest(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return the hex SHA-256 of the canonical JSON of ``[columns, rows]``."""
    return hashlib.sha256(result_digest_text(columns, rows).encode("utf-8")).hexdigest()


_PLAIN = frozenset({str, int, bool, type(None)})


def result_digest_text(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The canonical text that ``result_digest`` hashes (for tests and for auditors)."""
    outer = [list(columns), [list(row) for row in rows]]
    if all(type(c) is str for c in columns) and all(type(v) in _PLAIN for row in rows for v in row):
        # Only strings, integers, booleans and nulls (most row releases): compact JSON from
        # the standard library already is the canonical text, since it writes these exactly
        # as ``_value`` does, in C instead of one call per value.
        return json.dumps(outer, ensure_ascii=False, separators=(",", ":"))
    return _value(outer)


def _value(value: object) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return jcs_number(value)
    if isinstance(value, Decimal):
        return _value(int(value) if value == value.to_integral_value() else float(value))
    if isinstance(value, str):
        # With ensure_ascii off, json escapes exactly what RFC 8785 escapes, the same way.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value(v) for v in value) + "]"
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat(), ensure_ascii=False)
    raise TypeError(f"{type(value).__name__} values have no canonical digest form")


def jcs_number(value: float) -> str:
    """ECMAScript ``Number.prototype.toString`` of a finite double (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise ValueError("NaN and infinities have no JSON form")
    if value == 0:
        return "0"  # also -0.0
    sign = "-" if value < 0 else ""
    # repr gives the shortest round-trip digits, as ECMAScript requires; only the layout differs.
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    # n: position of the decimal point relative to the first significant digit.
    exponent = int(exp_text) if exp_text else 0
    n = (
        len(whole.lstrip("0")) + exponent
        if whole.strip("0")
        else exponent - (len(frac) - len(frac.lstrip("0")))
    )
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-")
        text += str(abs(e))
    return sign + text
