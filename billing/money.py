"""Money: exact decimals with an explicit currency, rounded once at the place the price book says.

Won (``KRW``) has no minor unit: an invoice line is a whole number of won. Unit prices may be
fractional (₩0.02 per token), so quantities × prices are computed in exact ``Decimal`` arithmetic
with a wide context and rounded to the currency's exponent once per line, half up
(docs/decisions/0012-pricing-and-rating.md). Floats are refused at the door: ``to_decimal(0.1)``
raises, so a float can never slip into an amount.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format

# Minor-unit exponent per currency (ISO 4217). Only what the product bills in.
EXPONENTS: dict[str, int] = {"KRW": 0, "USD": 2}
DEFAULT_CURRENCY = "KRW"
ROUNDING = ROUND_HALF_UP

# 60 significant digits: a billion calls at a price with 12 decimals stays exact.
CONTEXT = decimal.Context(prec=60, rounding=ROUNDING, traps=[decimal.InvalidOperation, decimal.DivisionByZero])


class MoneyError(ValueError):
    """An amount that is not an exact decimal (a float, NaN, infinity) or a currency we do not bill in."""


def to_decimal(value) -> Decimal:
    """An exact Decimal from an int, a Decimal or a decimal string; floats and non-finite values refuse."""
    if isinstance(value, (bool, float)):
        raise MoneyError(f"Refusing a {type(value).__name__} as money: use Decimal or a decimal string.")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise MoneyError(f"'{value}' is not a decimal number.") from None
    if not result.is_finite():
        raise MoneyError(f"'{value}' is not a finite number.")
    return result


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"Unsupported currency '{currency}'.") from None


def round_minor(amount: Decimal, currency: str = DEFAULT_CURRENCY) -> int:
    """``amount`` rounded half up to the currency's minor unit, as an integer count of minor units
    (won for KRW). The one rounding step of a line."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    rounded = to_decimal(amount).quantize(quantum, rounding=ROUNDING, context=CONTEXT)
    return int(rounded.scaleb(exponent(currency)))


def mul(*factors) -> Decimal:
    """Exact product in the wide context (no intermediate rounding)."""
    result = Decimal(1)
    for factor in factors:
        result = CONTEXT.multiply(result, to_decimal(factor))
    return result


def div(numerator, denominator) -> Decimal:
    """Quotient in the wide context; callers multiply first and divide once, then round once."""
    return CONTEXT.divide(to_decimal(numerator), to_decimal(denominator))


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units of ``currency`` (won for KRW). Arithmetic keeps the currency and
    refuses to mix currencies."""

    minor: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self):
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("Money holds a whole number of minor units; round the Decimal first (round_minor).")
        exponent(self.currency)

    @classmethod
    def of(cls, amount, currency: str = DEFAULT_CURRENCY) -> Money:
        """From a major-unit decimal (``Money.of("0.6")`` → ₩1), rounded half up once."""
        return cls(round_minor(to_decimal(amount), currency), currency)

    @property
    def amount(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise MoneyError(f"Cannot combine {self.currency} with {getattr(other, 'currency', type(other).__name__)}.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __str__(self) -> str:
        return format_money(self.minor, self.currency)


def format_money(minor: int, currency: str = DEFAULT_CURRENCY, *, use_l10n: bool = True) -> str:
    """As people read it: ``₩1,234,567`` (negative: ``-₩5,000``); other currencies with their code."""
    places = exponent(currency)
    value = Decimal(minor).scaleb(-places)
    text = number_format(abs(value), decimal_pos=places, use_l10n=use_l10n, force_grouping=True)
    sign = "-" if minor < 0 else ""
    return f"{sign}₩{text}" if currency == "KRW" else f"{sign}{text} {currency}"


def format_won(amount: int) -> str:
    return format_money(amount, "KRW")


def format_price(value) -> str:
    """A unit price with its significant decimals (₩0.02, ₩20, ₩10,000)."""
    value = to_decimal(value).normalize()
    places = max(0, -value.as_tuple().exponent)
    text = number_format(abs(value), decimal_pos=places, use_l10n=True, force_grouping=True)
    return f"{'-' if value < 0 else ''}₩{text}"
