from hypothesis import given
from hypothesis import strategies as st

from dos.pii import luhn_ok, mask_text, rrn_is_valid


def test_it_masks_each_kind_of_identifier():
    text = "RRN 900101-1234568, phone +82 10-9876-5432, office 02-123-4567, mail a.b@corp.kr, card 5500-0000-0000-0004"
    masked = mask_text(text)
    assert masked == "RRN [RRN], phone [PHONE], office [PHONE], mail [EMAIL], card [CARD:****0004]"


def test_it_leaves_ordinary_numbers_alone():
    text = "order 1234567890123 amount 15000000 KRW on 2026-11-21"
    assert mask_text(text) == text


def test_it_checks_rrn_checksums():
    assert rrn_is_valid("900101-1234568")
    assert not rrn_is_valid("900101-1234567")


def _luhn_complete(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


NO_DIGITS = st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=20)


@given(st.text(alphabet="0123456789", min_size=15, max_size=15), NO_DIGITS, NO_DIGITS, st.sampled_from(["", " ", "-"]))
def test_it_never_lets_a_valid_card_number_through(body, before, after, sep):
    card = _luhn_complete(body)
    printed = sep.join(card[i:i + 4] for i in range(0, 16, 4)) if sep else card
    masked = mask_text(f"{before} {printed} {after}")
    assert printed not in masked
    assert f"[CARD:****{card[-4:]}]" in masked


@given(st.integers(0, 99), st.integers(1, 12), st.integers(1, 28), st.integers(1, 8), st.integers(0, 999999))
def test_it_masks_every_plausible_rrn(yy, mm, dd, g, tail):
    rrn = f"{yy:02d}{mm:02d}{dd:02d}-{g}{tail:06d}"
    assert rrn not in mask_text(f"주민번호 {rrn} 입니다")
