"""Regenerates the labelled synthetic corpus for PII discovery (deterministic: seed 17).

    python tests/privacy/corpus/generate.py

* ``values.csv`` — ``label,value``: one value per row, labelled with the kind of personal data it is
  (rrn, frn, passport, card, bank_account, phone, email) or ``none``. The negatives are chosen to
  look like the positives: 13-digit numbers with a bad checksum or an impossible birth date, 16-digit
  transaction ids, business and corporate registration numbers, dates, amounts, order ids, product
  codes, document numbers shaped like passports.
* ``applicants.csv`` + ``applicants.labels.json`` — a 1,500-row loan applicant export whose columns
  are labelled with what they hold (``none`` for columns without personal data the scanners cover).

Every value is invented; the checksums are computed so valid-looking numbers are valid.
"""

from __future__ import annotations

import csv
import json
import random
import string
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).parent
RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def _birth(rng) -> date:
    return date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))


def _gender(born: date, foreign: bool, rng) -> str:
    century = 1900 if born.year < 2000 else 2000
    base = {(1900, False): "12", (2000, False): "34", (1900, True): "56", (2000, True): "78"}[(century, foreign)]
    return rng.choice(base)


def rrn(rng, *, checksum=True, foreign=False) -> str:
    born = _birth(rng)
    head = born.strftime("%y%m%d") + _gender(born, foreign, rng)
    office = f"{rng.randrange(0, 48) * 2:02d}" if foreign else f"{rng.randrange(0, 96):02d}"
    body = head + office + "".join(rng.choice(string.digits) for _ in range(3))
    total = sum(w * int(d) for w, d in zip(RRN_WEIGHTS, body, strict=True))
    check = (11 - total % 11) % 10
    if foreign:
        check = (check + 2) % 10
    if not checksum:
        check = (check + rng.randrange(1, 10)) % 10
    return f"{body[:6]}-{body[6:]}{check}"


def luhn_complete(prefix: str, length: int, rng) -> str:
    digits = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def card(rng) -> str:
    prefix, length = rng.choice([("4", 16), ("5" + str(rng.randrange(1, 6)), 16), ("9410", 16), ("3" + rng.choice(
        "47"), 15), ("35", 16), ("62", 16)])
    digits = luhn_complete(prefix, length, rng)
    if length == 15:
        return f"{digits[:4]}-{digits[4:10]}-{digits[10:]}"
    sep = rng.choice(["-", " ", ""])
    return sep.join(digits[i:i + 4] for i in range(0, 16, 4))


def phone(rng) -> str:
    kind = rng.random()
    if kind < 0.6:
        middle, last = rng.randrange(2000, 9999), rng.randrange(0, 9999)
        return rng.choice([f"010-{middle}-{last:04d}", f"010{middle}{last:04d}", f"+82 10-{middle}-{last:04d}"])
    if kind < 0.8:
        return f"02-{rng.randrange(200, 999)}-{rng.randrange(0, 9999):04d}"
    area = rng.choice(["031", "032", "051", "053", "062", "042", "064"])
    return f"{area}-{rng.randrange(200, 999)}-{rng.randrange(0, 9999):04d}"


LAYOUTS = [(3, 2, 6), (3, 3, 6), (6, 2, 6), (4, 3, 6), (3, 4, 4, 2), (3, 6, 5)]


def account(rng) -> str:
    layout = rng.choice(LAYOUTS)
    return "-".join("".join(rng.choice(string.digits) for _ in range(n)) for n in layout)


NAMES = ["minji", "jisoo", "hyunwoo", "seoyeon", "doyun", "kim.h", "lee_s", "park88", "choi.j", "jung.k"]
DOMAINS = ["naver.com", "gmail.com", "daum.net", "kakao.com", "acme-lending.co.kr", "example.kr"]


def email(rng) -> str:
    return f"{rng.choice(NAMES)}{rng.randrange(1, 999)}@{rng.choice(DOMAINS)}"


def passport(rng) -> str:
    letter = rng.choice("MS")
    if rng.random() < 0.5:
        return f"{letter}{rng.randrange(10**7, 10**8):08d}"
    return f"{letter}{rng.randrange(100, 999)}{rng.choice(string.ascii_uppercase)}{rng.randrange(0, 9999):04d}"


def negative(rng) -> str:
    kind = rng.randrange(16)
    if kind == 0:
        return rrn(rng, checksum=False).replace("-", "")  # unhyphenated, bad checksum
    if kind == 1:
        return f"{rng.randrange(10, 99)}{rng.randrange(13, 99)}{rng.randrange(32, 99)}-{rng.randrange(10**6, 10**7)}"
    if kind == 2:
        return "".join(rng.choice(string.digits) for _ in range(16))  # transaction id
    if kind == 3:
        return f"{rng.randrange(100, 999)}-{rng.randrange(10, 99)}-{rng.randrange(10000, 99999)}"  # business no.
    if kind == 4:
        return f"{rng.randrange(100000, 999999)}-{rng.randrange(10**6, 10**7)}"  # corporate registration no.
    if kind == 5:
        return (date(2020, 1, 1) + timedelta(days=rng.randrange(2000))).isoformat()
    if kind == 6:
        return f"{(date(2024, 1, 1) + timedelta(days=rng.randrange(600))).isoformat()}T{rng.randrange(24):02d}:" \
               f"{rng.randrange(60):02d}:00+09:00"
    if kind == 7:
        return str(rng.randrange(100, 500) * 100000)  # amount in won
    if kind == 8:
        return f"{rng.randrange(1, 900):,}{rng.choice(['', ',000', ',500,000'])}"
    if kind == 9:
        return f"ORD-{rng.randrange(2020, 2027)}-{rng.randrange(0, 999999):06d}"
    if kind == 10:
        return f"SKU{rng.randrange(10**6, 10**8)}"
    if kind == 11:
        return f"{rng.randrange(0, 100)}.{rng.randrange(0, 99):02d}"
    if kind == 12:
        return rng.choice(["personal", "mortgage", "auto", "business", "approved", "pending", "서울 강남구", "부산"])
    if kind == 13:
        return str(rng.randrange(1_600_000_000_000, 1_800_000_000_000))  # epoch milliseconds
    if kind == 14:
        return rng.choice(["user at example dot com", "@acme_lending", "name@localhost", "010-12-3456"])
    return f"{rng.choice('ABCDEFGHJK')}{rng.randrange(10**7, 10**8)}"  # document numbers shaped like passports


POSITIVES = {"rrn": lambda rng: rrn(rng) if rng.random() < 0.85 else rrn(rng, checksum=False),
             "frn": lambda rng: rrn(rng, foreign=True), "passport": passport, "card": card,
             "bank_account": account, "phone": phone, "email": email}


def write_values(rng) -> None:
    rows = [(label, make(rng)) for label, make in POSITIVES.items() for _ in range(300)]
    rows += [("none", negative(rng)) for _ in range(4000)]
    rng.shuffle(rows)
    with (HERE / "values.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "value"])
        writer.writerows(rows)


COLUMNS = {"applicant_no": "none", "resident_no": "rrn", "alien_reg_no": "frn", "mobile": "phone",
           "contact_email": "email", "card_on_file": "card", "payout_account": "bank_account",
           "passport_no": "passport", "loan_amount": "none", "applied_at": "none", "biz_reg_no": "none",
           "txn_id": "none", "product": "none"}


def write_applicants(rng) -> None:
    with (HERE / "applicants.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(COLUMNS))
        for i in range(1500):
            foreign = rng.random() < 0.15
            writer.writerow([
                f"A{2026000000 + i}", "" if foreign else rrn(rng), rrn(rng, foreign=True) if foreign else "",
                phone(rng), email(rng), card(rng), account(rng), passport(rng) if rng.random() < 0.3 else "",
                str(rng.randrange(100, 500) * 100000),
                (date(2026, 1, 1) + timedelta(days=rng.randrange(300))).isoformat(),
                f"{rng.randrange(100, 999)}-{rng.randrange(10, 99)}-{rng.randrange(10000, 99999)}",
                "".join(rng.choice(string.digits) for _ in range(16)),
                rng.choice(["personal", "mortgage", "auto"]),
            ])
    (HERE / "applicants.labels.json").write_text(json.dumps(COLUMNS, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    generator = random.Random(17)
    write_values(generator)
    write_applicants(generator)
