"""Recognisers and maskers for personal identifiers that must never reach logs, traces or chains.

The privacy app extends this module (discovery with confidence, vault tokens); the rules here are
deliberately cheap so they can run on every log line:

* Korean resident registration numbers (RRN, 주민등록번호): ``YYMMDD-GNNNNNN``; the gender/century
  digit is 1-8 and the date must be real. Log scrubbing masks any such shape even when the checksum
  fails (a typo'd RRN is still personal data), while ``rrn_is_valid`` checks the checksum for
  discovery.
* Card numbers: 13-19 digits (spaces/dashes allowed) passing the Luhn check.
* Korean phone numbers: mobile 010/011/016/017/018/019, Seoul 02, area codes 031-064, +82 forms.
* Korean bank account numbers as printed (hyphenated, 10–14 digits).
* E-mail addresses.
"""

from __future__ import annotations

import re

RRN_RE = re.compile(r"(?<!\d)(\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])[- ]?([1-8])\d{6}(?!\d)")
# Contiguous 13-19 digits, or the printed groupings 4-4-4-4(-3) and Amex 4-6-5.
CARD_RE = re.compile(
    r"(?<!\d)(?:\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}(?:[ -]\d{3})?|\d{4}[ -]\d{6}[ -]\d{5}|\d{13,19})(?!\d)"
)
PHONE_RE = re.compile(
    r"(?<![\d+])(?:\+82[ -]?(?:0)?|0)(?:1[016789]|2|[3-6][1-5])[ -]?\d{3,4}[ -]?\d{4}(?!\d)"
)
# Korean bank account numbers as printed: 3–4 hyphenated groups, 10–14 digits in all (dates and
# phone numbers are too short or masked before this runs).
ACCOUNT_RE = re.compile(r"(?<![\d-])\d{2,6}-\d{2,6}-\d{1,7}(?:-\d{1,3})?(?![\d-])")
EMAIL_RE = re.compile(r"(?i)(?<![\w.+-])[\w.+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+")

_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def rrn_is_valid(value: str) -> bool:
    """Checksum of a 13-digit RRN (pre-2020 numbers; later ones may carry random tails)."""
    digits = re.sub(r"\D", "", value)
    if len(digits) != 13:
        return False
    check = (11 - sum(int(d) * w for d, w in zip(digits[:12], _RRN_WEIGHTS, strict=True)) % 11) % 10
    return check == int(digits[12])


def _mask_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if len(digits) < 13 or not luhn_ok(digits):
        return match.group(0)
    return "[CARD:****" + digits[-4:] + "]"


# Digit groups joined by "_" or "." — how identifiers appear in file names (010_1234_5678.pdf,
# 900101.1234567.jpg). Such a run is checked as if hyphenated, and replaced only when that finds one.
JOINED_DIGITS_RE = re.compile(r"(?<!\d)\d+(?:[_.]\d+)+(?!\d)")


def _mask_joined(match: re.Match) -> str:
    hyphenated = re.sub(r"[_.]", "-", match.group(0))
    masked = _mask_plain(hyphenated)
    return masked if masked != hyphenated else match.group(0)


# The product's own opaque ids (UUIDs, hex digests) are not personal data, and their digit runs can
# look like account numbers ("445b8025-4321-463d…"): they pass through untouched.
OPAQUE_ID_RE = re.compile(
    r"(?i)(?<![0-9a-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,})(?![0-9a-z])")


def mask_text(text: str) -> str:
    """Replace every recognised identifier in free text with a typed placeholder."""
    if not text or not any(ch.isdigit() or ch == "@" for ch in text):
        return text
    if "-" in text or len(text) >= 32:
        pieces, last = [], 0
        for match in OPAQUE_ID_RE.finditer(text):
            pieces += [_mask_free(text[last:match.start()]), match.group(0)]
            last = match.end()
        if pieces:
            return "".join(pieces) + _mask_free(text[last:])
    return _mask_free(text)


def _mask_free(text: str) -> str:
    if not text:
        return text
    if "_" in text or "." in text:
        text = JOINED_DIGITS_RE.sub(_mask_joined, text)
    return _mask_plain(text)


def _mask_plain(text: str) -> str:
    text = RRN_RE.sub("[RRN]", text)
    text = CARD_RE.sub(_mask_card, text)
    text = PHONE_RE.sub("[PHONE]", text)
    text = ACCOUNT_RE.sub(_mask_account, text)
    return EMAIL_RE.sub("[EMAIL]", text)


def _mask_account(match: re.Match) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "[ACCOUNT]" if 10 <= digits <= 14 else match.group(0)


def mask_value(value):
    """Recursively mask strings inside dicts, lists and tuples (log event dicts, payloads)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(v) for v in value)
    return value


def mask_deep(value):
    """Mask everything in a structure that is about to be recorded for good (the audit chain): string
    values, dict keys (a key can be a phone number: ``{"010-1234-5678": "called"}``), file names, and
    integers whose digits form an identifier (an RRN or a card number sent as a JSON number, which
    becomes the placeholder string). Other numbers, booleans and None pass unchanged."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        digits = str(value)
        masked = mask_text(digits)
        return value if masked == digits else masked
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            masked = mask_deep(key) if isinstance(key, (str, int)) and not isinstance(key, bool) else key
            # Two keys may mask alike ({"010-…": 1, "011-…": 2}); keep both entries.
            name, n = masked, 1
            while name in out:
                n += 1
                name = f"{masked}#{n}"
            out[name] = mask_deep(item)
        return out
    if isinstance(value, (list, tuple)):
        return [mask_deep(v) for v in value]
    return value
