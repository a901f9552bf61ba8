import json

import pytest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from dos import scope
from dos.audit import audit_record
from dos.models import LedgerEntry
from dos.pii import luhn_ok, mask_deep, mask_text, rrn_is_valid
from tenancy import services
from tenancy.audit_auth import audit_auth_event
from tenancy.models import Org
from tests.factories import add_member


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


# -- file names, numbers and keys, as they reach the audit chain --------------------------------

@pytest.mark.parametrize(("name", "masked"), [
    ("010_1234_5678.pdf", "[PHONE].pdf"),
    ("홍길동_900101.1234568_scan.jpg", "홍길동_[RRN]_scan.jpg"),
    ("4111_1111_1111_1111.png", "[CARD:****1111].png"),
    ("statement 110-123-456789.pdf", "statement [ACCOUNT].pdf"),
    ("9001011234568.jpg", "[RRN].jpg"),
])
def test_it_masks_identifiers_in_file_names(name, masked):
    assert mask_text(name) == masked


def test_it_leaves_versions_dates_and_decimals_in_file_names_alone():
    for name in ("report_v1.2.3.pdf", "2026.11.05_minutes.txt", "rate_12345.67.csv", "scan_0001.png"):
        assert mask_text(name) == name


def test_it_masks_dict_keys_numbers_and_nested_values():
    masked = mask_deep({"010-1234-5678": "called", "011-2345-6789": "called", "rrn": 9001011234568,
                        "card": 4111111111111111, "count": 12, "amount": 15000000, "ok": True,
                        "files": [{"name": "010_1234_5678.pdf"}]})
    assert masked == {"[PHONE]": "called", "[PHONE]#2": "called", "rrn": "[RRN]", "card": "[CARD:****1111]",
                      "count": 12, "amount": 15000000, "ok": True, "files": [{"name": "[PHONE].pdf"}]}


def chain_entry(org, action):
    with scope.org_scope(org.id):
        return LedgerEntry.objects.filter(chain="audit", action=action).latest("seq")


@pytest.mark.django_db
def test_the_audit_chain_never_holds_identifiers_in_file_names_numbers_or_keys(acme):
    with scope.org_scope(acme.id):
        audit_record(org_id=acme.id, action="test.attachment", actor="system:test", target="file:kim@acme.example",
                     data={"name": "홍길동_900101-1234568.pdf", "account_no": 11012345678903,
                           "by_phone": {"010-9876-5432": {"rrn": 9001011234568}}, "size": 2048})
    entry = chain_entry(acme, "test.attachment")
    stored = json.dumps(entry.data, ensure_ascii=False) + entry.target
    for identifier in ("900101", "1234568", "9876-5432", "9001011234568", "kim@acme.example"):
        assert identifier not in stored
    assert entry.data["name"] == "홍길동_[RRN].pdf"
    assert entry.data["by_phone"] == {"[PHONE]": {"rrn": "[RRN]"}}
    assert entry.data["size"] == 2048
    assert entry.target == "file:[EMAIL]"


@pytest.mark.django_db
def test_a_case_attachment_name_reaches_the_chain_masked(acme, desk, alice):
    from hitl.choices import CaseSource
    from hitl.services import case_event, case_open
    from tests.factories import default_project

    with scope.org_scope(acme.id):
        case = case_open(org_id=acme.id, project=default_project(acme), source=CaseSource.ADMIN, actor="system:test")
        case_event(case, "attachment", alice, {"name": "010_1234_5678 신분증.jpg", "mime": "image/jpeg"})
    assert chain_entry(acme, "hitl.case.attachment").data["name"] == "[PHONE] 신분증.jpg"


# -- client IPs on the chain -----------------------------------------------------------------------

def _set_ip_mode(org, mode):
    with scope.org_scope(org.id):
        org.refresh_from_db()
        org.settings = {**org.settings, "audit_ip_mode": mode}
        services.org_update(org=org, fields=["settings"], actor="system:test")


def _login_from(org, user, address):
    request = RequestFactory().get("/admin/", REMOTE_ADDR=address)
    audit_auth_event(user=user, action="auth.login", request=request, data={"method": "password"})
    return chain_entry(org, "auth.login").data


@pytest.mark.django_db
@pytest.mark.parametrize(("address", "kept"), [("203.0.113.77", "203.0.113.0/24"),
                                               ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
                                               ("::ffff:198.51.100.9", "198.51.100.0/24"),
                                               ("not-an-ip", "unparseable")])
def test_it_truncates_client_ips_on_the_chain_by_default(acme, alice, address, kept):
    data = _login_from(acme, alice, address)
    assert (data["ip"], data["ip_mode"]) == (kept, "truncated")


@pytest.mark.django_db
def test_an_org_may_keep_full_ips(acme, alice):
    _set_ip_mode(acme, "full")
    assert _login_from(acme, alice, "203.0.113.77")["ip"] == "203.0.113.77"


@pytest.mark.django_db
def test_hashed_ips_compare_equal_within_an_org_and_nowhere_else(acme, outsider, alice):
    _set_ip_mode(acme, "hashed")
    _set_ip_mode(outsider, "hashed")
    first = _login_from(acme, alice, "203.0.113.77")["ip"]
    again = _login_from(acme, alice, "203.0.113.77")["ip"]
    other = _login_from(acme, alice, "203.0.113.78")["ip"]
    add_member(outsider, alice, "read_only")
    elsewhere = _login_from(outsider, alice, "203.0.113.77")["ip"]
    assert first == again and first.startswith("hmac-sha256:")
    assert "203.0.113" not in first
    assert len({first, other, elsewhere}) == 3


@pytest.mark.django_db
def test_changing_the_ip_mode_is_validated_and_audited(acme):
    _set_ip_mode(acme, "hashed")
    with scope.org_scope(acme.id):
        entry = LedgerEntry.objects.filter(chain="audit", action="org.updated").latest("seq")
    assert entry.data["security_settings"] == {"audit_ip_mode": {"from": "truncated", "to": "hashed"}}
    with pytest.raises(services.TenancyError) as refused:
        _set_ip_mode(acme, "reversible")
    assert "audit_ip_mode" in str(refused.value)
    with scope.org_scope(acme.id):
        assert Org.objects.get(id=acme.id).settings["audit_ip_mode"] == "hashed"


def test_the_products_own_ids_are_never_masked():
    from dos.pii import mask_deep, mask_text

    uuid_like = "user:445b8025-4321-463d-a158-936a10fce592"
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert mask_text(uuid_like) == uuid_like
    assert mask_text(f"sha {digest} for 010-1234-5678") == f"sha {digest} for [PHONE]"
    assert mask_deep({"target": uuid_like, "call": "010-1234-5678"}) == {"target": uuid_like, "call": "[PHONE]"}
