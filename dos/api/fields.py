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


@extend_schema_field({"type": "string", "pattern": r"^-?\d+(\.\d+)?$",
                      "description": "An exact decimal as text, no exponent (e.g. \"300000\", \"0.02\")."})
class DecimalText(serializers.Field):
    """An exact decimal out as a string without exponent or trailing zeros (``"300000"``, ``"0.02"``):
    money and quantities keep every digit, and no client parses them as floats."""

    def to_representation(self, value):
        return None if value is None else decimal_str(value)


@extend_schema_field({
    "type": ["string", "number"], "minimum": 0, "pattern": r"^\d{1,18}(\.\d{1,6})?$",
    "description": "A non-negative quantity: a decimal string (\"1234.5\") or a JSON number; at most 6 decimals.",
})
class QuantityField(serializers.DecimalField):
    """Meter values: a decimal string or a number (the schema says both, with the string's shape)."""


class StrictCharField(serializers.CharField):
    """Text input that is text: DRF's CharField turns a JSON number or boolean into a string, which
    the schema (``type: string``) does not allow. Every request serializer's text fields use this."""

    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        # The schema's maxLength applies to what was sent, before surrounding whitespace is trimmed.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as text: DRF also takes an integer as a UUID's 128 bits, which the schema
    (``type: string, format: uuid``) does not allow."""

    def to_internal_value(self, data):
        if not isinstance(data, str) and not hasattr(data, "hex"):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictSlugField(StrictCharField, serializers.SlugField):
    """A slug given as text (a JSON number is refused, not turned into "0")."""
