"""How the API writes numbers: quantities and money are decimal strings without exponents."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def decimal_str(value) -> str:
    """``Decimal("50.000000")`` → ``"50"``, ``Decimal("5E+1")`` → ``"50"``, ``"1234.50"`` → ``"1234.5"``.

    ``str(d.normalize())`` would give ``"5E+1"``; the ``f`` format never uses an exponent.
    """
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in {"-0", ""} else text


@extend_schema_field({
    "type": ["string", "number"], "minimum": 0, "pattern": r"^\d{1,18}(\.\d{1,6})?$",
    "description": "A non-negative quantity: a decimal string (\"1234.5\") or a JSON number; at most 6 decimals.",
})
class QuantityField(serializers.DecimalField):
    """Meter values: a decimal string or a number (the schema says both, with the string's shape)."""
