"""``subject_export.zip``: the subject's data as JSON, one CSV per section, and a PDF summary.

The document is built from the registry's sections (``dos.subject_data``), then redacted: other
people (reviewers, operators, keys) appear as "staff" or "system", never by id. An erasure request's
export is an inventory — sections, row counts, what is kept and why — without the values.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile

from django.template.loader import render_to_string

from dos.subject_data import Section

THIRD_PARTY = re.compile(r"\b(?:user|apikey|key|member):[\w.@-]+")
# Candidate identifiers in free text, each confirmed by the discovery scanners before it is masked:
# e-mail addresses, digit runs (resident/foreigner numbers, phones, cards, accounts), passport numbers.
CANDIDATES = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}"
                        r"|\+?\d[\d ()-]{5,24}\d"
                        r"|\b[MSRGD](?:\d{8}|\d{3}[A-Z]\d{4})\b")
FREE_TEXT = {"case_notes": ("original",)}  # section → free-text fields that may name other people
PEOPLE_KEYS = frozenset({"actor", "author", "author_label", "decided_by", "reviewer", "owner", "assignee",
                         "verified_by", "created_by"})
FILES = ("subject_export.json", "summary.pdf", "README.txt")


def document(request, sections: list[Section], *, generated_at) -> dict:
    return {
        "request": {"reference": request.reference, "kind": request.kind, "subject_token": request.subject_token,
                    "received_at": request.received_at.isoformat(), "due_at": request.due_at.isoformat()},
        "generated_at": generated_at.isoformat(),
        "sections": [{"name": s.name, "title": s.title, "source": s.source, "chained": s.chained,
                      "kept_because": s.kept_because, "rows": s.rows} for s in sections],
    }


def _scrub(value, counter: list[int]):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in PEOPLE_KEYS and item:
                counter[0] += 1
                out[key] = "staff"
            else:
                out[key] = _scrub(item, counter)
        return out
    if isinstance(value, list):
        return [_scrub(item, counter) for item in value]
    if isinstance(value, str) and THIRD_PARTY.search(value):
        counter[0] += 1
        return THIRD_PARTY.sub("staff", value)
    return value


def mask_identifiers(text: str, counter: list[int]) -> str:
    """Every identifier the discovery scanners recognise in ``text``, masked (``010-****-6789``).

    A case-note original may name other people (a guarantor's phone, a spouse's resident number). Whose
    value an identifier is cannot be told reliably from the text, so all are masked — the subject's own
    too, which they know already; the README of the export says so."""
    from privacy.discovery.scanners import classify_value, mask_example

    def masked(match: re.Match) -> str:
        value = match.group(0)
        found = classify_value(value.strip())
        if found is None:
            return value
        counter[0] += 1
        return mask_example(found[0], value.strip())

    return CANDIDATES.sub(masked, text) if text else text


def redact(document: dict, *, values: bool = True) -> dict:
    """Other people out; identifiers in free text masked; with ``values=False`` (erasure) every row out
    too, counts kept."""
    counter, identifiers = [0], [0]
    sections = []
    for section in document["sections"]:
        rows = _scrub(section["rows"], counter)
        for field in FREE_TEXT.get(section["name"], ()):
            rows = [{**row, field: mask_identifiers(row[field], identifiers)} if isinstance(row.get(field), str)
                    else row for row in rows]
        section = {**section, "row_count": len(rows), "rows": rows if values else []}
        sections.append(section)
    return {**document, "sections": sections,
            "redaction": {"third_party_refs": counter[0], "identifiers_masked": identifiers[0],
                          "values_included": values}}


def _cell(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def section_csv(section: dict) -> str:
    columns: list[str] = []
    for row in section["rows"]:
        columns += [key for key in row if key not in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in section["rows"]:
        writer.writerow([_cell(row.get(key)) for key in columns])
    return out.getvalue()


def summary_pdf(document: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string("privacy/dsar_summary.html", {"d": document, "sections": document["sections"]})
    return HTML(string=html).write_pdf()


def archive(document: dict) -> bytes:
    """The zip as handed to the subject (fixed timestamps inside, so equal content zips equally)."""
    stamp = (2000, 1, 1, 0, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        def put(name: str, data) -> None:
            bundle.writestr(zipfile.ZipInfo(name, date_time=stamp), data)

        put("subject_export.json", json.dumps(document, ensure_ascii=False, indent=2))
        for section in document["sections"]:
            put(f"csv/{section['name']}.csv", section_csv(section))
        put("summary.pdf", summary_pdf(document))
        put("README.txt", "Your data held by this organisation, as of the date in subject_export.json.\n"
            "subject_export.json holds everything; csv/ has one table per kind of record; summary.pdf is a\n"
            "readable summary (Korean and English). Records kept on tamper-evident chains hold masked data.\n"
            "Case-note originals may mention other people: every identifier in them (phone, resident or\n"
            "foreigner registration, card, account, passport numbers, e-mail addresses) is masked, yours too.\n"
            "이 파일은 귀하의 개인정보 열람 요청에 대한 회신입니다. 상담 메모 원문에는 다른 사람의 정보가 있을 수 있어\n"
            "전화번호·주민/외국인등록번호·카드·계좌·여권번호·이메일은 귀하의 것을 포함해 모두 가려져 있습니다.\n")
    return buffer.getvalue()


def export_bytes(made) -> bytes:
    """The zip of a ``DsarExport``, opened from the vault (``Erased`` once the subject was erased
    afterwards: an earlier export of an erased subject is destroyed with them)."""
    from dos.authz import system_actor
    from privacy.vault import unseal

    return unseal(actor=system_actor("dsar"), org_id=made.org_id, sealed=made.archive_sealed, purpose="dsar.access")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

