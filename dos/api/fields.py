"""How the API writes numbers: quantities and money are decimal strings without exponents."""

from __future__ import annotations

from decimal import Decimal


def decimal_str(value) -> str:
    """``Decimal("50.000000")`` → ``"50"``, ``Decimal("5E+1")`` → ``"50"``, ``"1234.50"`` → ``"1234.5"``.

    ``str(d.normalize())`` would give ``"5E+1"``; the ``f`` format never uses an exponent.
    """
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in {"-0", ""} else text
