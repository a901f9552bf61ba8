"""Value scanners for personal data in Korean lending data (issue's discovery list).

Each scanner scores one cell value from 0 to 1: 1 when the value is that kind of data beyond doubt
(a checksum or a validated numbering plan agrees), lower when only the shape matches. A value
counts as a hit at ``HIT`` or more. Validation comes from libraries where one fits — python-stdnum
for the resident registration number, Luhn and the e-mail address, phonenumbers for Korean
numbering — and the birth date inside an RRN/FRN must be a real date.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from stdnum import luhn
from stdnum.kr import rrn as kr_rrn

HIT = 0.5

_RRN_SHAPE = re.compile(r"^(\d{6})(-?)(\d)(\d{6})$")
_DIGITS = re.compile(r"\D")
_CARD_SHAPE = re.compile(r"^(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -]?)\d{6}\2\d{5})$")
# Card brands by issuer prefix: Visa, Mastercard (51–55, 2221–2720), Amex, JCB, UnionPay, and the
# Korean domestic (BC etc.) ranges starting 9.
_CARD_IIN = re.compile(r"^(?:4|5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720|3[47]|35|62|9[0-9])")
_PHONE_SHAPE = re.compile(r"^(?:\+82[ -]?|0)\d{1,2}[ )-]?\d{3,4}[ -]?\d{4}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}$")
# Korean passports: a type letter and 8 digits, or (since 2021) letter, 3 digits, letter, 4 digits.
# M (multiple) and S (single) are what applicants carry; R, G, D (official, diplomatic) are rare and
# share their shape with many document numbers, so they need the column's name to count.
_PASSPORT = re.compile(r"^([MSRGD])(?:\d{8}|\d{3}[A-Z]\d{4})$")
# Bank accounts as banks print them (group lengths per bank), 10–14 digits in all.
_ACCOUNT_LAYOUTS = {
    (3, 2, 6), (3, 3, 6), (3, 6, 5), (3, 4, 4, 2), (3, 2, 5, 1), (4, 3, 6), (6, 2, 6), (3, 6, 3), (3, 4, 4, 3),
    (4, 4, 5), (3, 3, 5), (6, 2, 5),
}


def _birth_date_ok(digits: str) -> bool:
    try:
        kr_rrn.get_birth_date(digits)
    except Exception:  # noqa: BLE001 - stdnum raises its own ValidationError subclasses
        return False
    return True


def _registration_number(value: str, gender_digits: str) -> float:
    match = _RRN_SHAPE.match(value.strip())
    if not match or match.group(3) not in gender_digits:
        return 0.0
    digits = match.group(1) + match.group(3) + match.group(4)
    if not _birth_date_ok(digits):
        return 0.0
    if kr_rrn.is_valid(digits):
        return 1.0
    if gender_digits == "5678" and _frn_check_ok(digits):
        return 1.0
    # Numbers issued since October 2020 carry no checksum: the printed shape must then say it.
    return 0.6 if match.group(2) == "-" else 0.2


def _frn_check_ok(digits: str) -> bool:
    """The foreigner registration number's own check digit (issued before 2020)."""
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    total = sum(w * int(d) for w, d in zip(weights, digits[:12], strict=True))
    return (((11 - total % 11) % 10) + 2) % 10 == int(digits[12]) and int(digits[7:9]) % 2 == 0


def score_rrn(value: str) -> float:
    """Resident registration number (주민등록번호): YYMMDD-GNNNNNC, G 1–4 (9/0 for the 1800s)."""
    return _registration_number(value, "123490")


def score_frn(value: str) -> float:
    """Foreigner registration number (외국인등록번호): the same layout, G 5–8."""
    return _registration_number(value, "5678")


def score_phone(value: str) -> float:
    text = value.strip()
    if not _PHONE_SHAPE.match(text):
        return 0.0
    try:
        number = phonenumbers.parse(text, "KR")
    except phonenumbers.NumberParseException:
        return 0.0
    if not phonenumbers.is_valid_number_for_region(number, "KR"):
        return 0.0
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.MOBILE:
        return 1.0
    # Landlines written without separators look like any 9–10 digit code.
    return 0.9 if re.search(r"[ )-]", text) or text.startswith("+") else 0.4


def score_card(value: str) -> float:
    text = value.strip()
    if not _CARD_SHAPE.match(text):
        return 0.0
    digits = _DIGITS.sub("", text)
    if not luhn.is_valid(digits) or not _CARD_IIN.match(digits):
        return 0.0
    # Printed in groups it is a card; a bare run of digits may as well be a transaction id.
    return 1.0 if text != digits else 0.5


def score_email(value: str) -> float:
    return 1.0 if _EMAIL.match(value.strip()) else 0.0


def score_passport(value: str) -> float:
    match = _PASSPORT.match(value.strip())
    if not match:
        return 0.0
    return 0.8 if match.group(1) in "MS" else 0.4


def score_account(value: str) -> float:
    text = value.strip()
    if not re.fullmatch(r"\d+(?:-\d+){2,3}", text):
        return 0.0
    groups = tuple(len(g) for g in text.split("-"))
    if groups not in _ACCOUNT_LAYOUTS or not 10 <= sum(groups) <= 14:
        return 0.0
    return 0.7


@dataclass(frozen=True)
class Scanner:
    pii_type: str
    label: str
    sensitivity: str  # privacy.models.retention.Sensitivity: P0 (identifiers) … P3 (public)
    score: Callable[[str], float]
    header_hints: tuple[str, ...] = ()


# Most specific first: a tie goes to the earlier scanner.
SCANNERS: tuple[Scanner, ...] = (
    Scanner("rrn", "Resident registration number", "P0", score_rrn, ("rrn", "jumin", "주민", "resident")),
    Scanner("frn", "Foreigner registration number", "P0", score_frn, ("frn", "alien", "외국인", "foreigner")),
    Scanner("passport", "Passport number", "P0", score_passport, ("passport", "여권")),
    Scanner("card", "Payment card number", "P1", score_card, ("card", "카드", "pan")),
    Scanner("bank_account", "Bank account number", "P1", score_account, ("account", "acct", "계좌", "bank")),
    Scanner("phone", "Phone number", "P1", score_phone, ("phone", "mobile", "tel", "전화", "휴대")),
    Scanner("email", "E-mail address", "P1", score_email, ("email", "e-mail", "mail", "메일")),
)
BY_TYPE = {s.pii_type: s for s in SCANNERS}


def classify_value(value: str) -> tuple[str, float] | None:
    """The kind of personal data ``value`` is, with its score; None below ``HIT``."""
    if not value or len(value) > 254:
        return None
    best: tuple[str, float] | None = None
    for scanner in SCANNERS:
        score = scanner.score(value)
        if score >= HIT and (best is None or score > best[1]):
            best = (scanner.pii_type, score)
    return best


def mask_example(pii_type: str, value: str) -> str:
    """An example as a reviewer may see it: enough shape to judge, never the value."""
    text = value.strip()
    if pii_type in ("rrn", "frn"):
        return re.sub(r"^(\d{6})-?(\d)\d{6}$", r"\1-\2******", text)
    if pii_type == "email":
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    if pii_type == "card":
        digits = _DIGITS.sub("", text)
        return f"{digits[:4]}-****-****-{digits[-4:]}"
    if pii_type == "phone":
        return text[:3] + re.sub(r"\d", "*", text[3:-4]) + text[-4:] if len(text) > 7 else "****"
    if pii_type == "passport":
        return text[:1] + "*" * (len(text) - 3) + text[-2:]
    return re.sub(r"\d", "*", text[:-3]) + text[-3:]  # bank account: the last three digits only
