"""Money is exact: Decimal in, whole won out, rounded half up once; floats are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money, MoneyError, format_price, format_won, mul, round_minor, to_decimal


def test_it_refuses_floats_anywhere_money_enters():
    with pytest.raises(MoneyError):
        to_decimal(0.1)
    with pytest.raises(MoneyError):
        Money.of(0.6)
    with pytest.raises(MoneyError):
        Money(Decimal("1"))  # minor units are ints: round first
    with pytest.raises(MoneyError):
        to_decimal("NaN")


@pytest.mark.parametrize(("amount", "won"), [("0.4", 0), ("0.5", 1), ("0.6", 1), ("1.5", 2), ("2.5", 3),
                                             ("-0.5", -1), ("-0.4", 0), ("12345.49999", 12345)])
def test_it_rounds_half_up_to_the_won(amount, won):
    assert round_minor(Decimal(amount)) == won
    assert Money.of(amount).minor == won


def test_it_keeps_currencies_apart():
    with pytest.raises(MoneyError):
        Money(100, "KRW") + Money(100, "USD")
    assert (Money(300_000) + Money(246_900) - Money(1)).minor == 546_899
    assert Money.of("12.345", "USD").minor == 1235


def test_it_formats_won_as_people_read_it():
    with translation.override("ko"):
        assert format_won(1_234_567) == "₩1,234,567"
        assert format_won(-5_000) == "-₩5,000"
        assert format_price(Decimal("0.02")) == "₩0.02"
        assert format_price(Decimal("10000")) == "₩10,000"


@given(st.integers(min_value=0, max_value=10**9), st.decimals(min_value=0, max_value=1000, places=4))
def test_it_multiplies_exactly_before_the_one_rounding(quantity, price):
    exact = mul(quantity, price)
    assert exact == Decimal(quantity) * price  # no intermediate rounding in the wide context
    assert abs(Decimal(round_minor(exact)) - exact) <= Decimal("0.5")
