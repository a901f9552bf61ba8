"""A scan: read a CSV once, keep a uniform sample of up to 1,000 non-empty values per column
(reservoir sampling, seeded so a rescan of the same file proposes the same), score every value with
every scanner, and record per column and kind of data a finding with its confidence and masked
examples. Nothing but the masked examples leaves the sample; the sample itself is not stored."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from dos.audit import actor_label, audit_record
from dos.authz import action, authorize
from dos.errors import FieldErrors
from privacy.discovery.scanners import BY_TYPE, HIT, SCANNERS, mask_example
from privacy.models import DiscoveryFinding, DiscoveryScan

DISCOVERY_SCAN = action("discovery.scan", "catalog.write")

SAMPLE_ROWS = 1000
MAX_BYTES = 50 * 1024 * 1024
MAX_COLUMNS = 500
MIN_SHARE = 0.02  # a kind of data in fewer sampled values than this is noise, not a finding
HEADER_BONUS = 0.1
EXAMPLES = 3


@dataclass
class ColumnFinding:
    column: str
    pii_type: str
    confidence: float
    hits: int
    sampled: int
    examples: list[str]


def sample_columns(rows: Iterable[list[str]], header: list[str], *, size: int = SAMPLE_ROWS,
                   seed: int = 0) -> tuple[dict[str, list[str]], int]:
    """A uniform sample of up to ``size`` non-empty values per column (Algorithm R); and rows read."""
    rng = random.Random(seed)
    samples: dict[str, list[str]] = {name: [] for name in header}
    seen = dict.fromkeys(header, 0)
    count = 0
    for row in rows:
        count += 1
        for name, value in zip(header, row, strict=False):
            value = value.strip()
            if not value:
                continue
            seen[name] += 1
            if len(samples[name]) < size:
                samples[name].append(value)
            else:
                slot = rng.randrange(seen[name])
                if slot < size:
                    samples[name][slot] = value
    return samples, count


def column_findings(column: str, values: list[str]) -> list[ColumnFinding]:
    """What kinds of personal data a column's sample holds. Confidence = share of values that hit ×
    their mean score, lifted a little when the header names the kind; most confident first."""
    if not values:
        return []
    found = []
    header = column.lower()
    for scanner in SCANNERS:
        scores = [(value, scanner.score(value)) for value in values]
        hits = [(v, s) for v, s in scores if s >= HIT]
        if len(hits) < max(1, MIN_SHARE * len(values)):
            continue
        confidence = len(hits) / len(values) * (sum(s for _, s in hits) / len(hits))
        if any(hint in header for hint in scanner.header_hints):
            confidence = min(1.0, confidence + HEADER_BONUS)
        examples = list(dict.fromkeys(mask_example(scanner.pii_type, v) for v, _ in hits))[:EXAMPLES]
        found.append(ColumnFinding(column=column, pii_type=scanner.pii_type, confidence=round(confidence, 3),
                                   hits=len(hits), sampled=len(values), examples=examples))
    return sorted(found, key=lambda f: -f.confidence)


def _read(content: bytes) -> tuple[list[str], csv.reader]:
    if len(content) > MAX_BYTES:
        raise FieldErrors({"file": [f"At most {MAX_BYTES // (1024 * 1024)} MB."]})
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FieldErrors({"file": ["Not UTF-8 or CP949 text."]})
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader, None)
    except csv.Error as exc:  # e.g. a header field over the csv module's field size limit
        raise FieldErrors({"file": [f"Not readable as CSV: {exc}"]}) from exc
    if not header or not any(h.strip() for h in header):
        raise FieldErrors({"file": ["The first row must name the columns."]})
    if len(header) > MAX_COLUMNS:
        raise FieldErrors({"file": [f"At most {MAX_COLUMNS} columns."]})
    header = [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
    return header, reader


def discovery_scan(*, org_id, dataset: str, content: bytes, actor, source: str = "upload",
                   sample_size: int = SAMPLE_ROWS) -> DiscoveryScan:
    """Scan a CSV for personal data; one transaction: the scan, its findings (proposed), the audit."""
    actor = authorize(actor, DISCOVERY_SCAN)
    dataset = (dataset or "").strip()[:200]
    if not dataset:
        raise FieldErrors({"dataset": ["Name the dataset."]})
    header, reader = _read(content)
    try:
        samples, rows = sample_columns(reader, header, size=sample_size, seed=hash(dataset) & 0xFFFF)
    except csv.Error as exc:
        raise FieldErrors({"file": [f"Not readable as CSV: {exc}"]}) from exc
    with transaction.atomic():
        scan = DiscoveryScan.objects.create(org_id=org_id, dataset=dataset, source=source, rows_seen=rows,
                                            sample_size=sample_size, columns=header, created_by=actor_label(actor))
        findings = [finding for column in header for finding in column_findings(column, samples[column])]
        DiscoveryFinding.objects.bulk_create([DiscoveryFinding(
            org_id=org_id, scan=scan, dataset=dataset, column=f.column, pii_type=f.pii_type,
            confidence=Decimal(str(f.confidence)), hits=f.hits, sampled=f.sampled, examples=f.examples,
            proposed_pii=True, proposed_sensitivity=BY_TYPE[f.pii_type].sensitivity) for f in findings])
        audit_record(org_id=org_id, action="discovery.scanned", actor=actor, target=f"discovery_scan:{scan.id}",
                     data={"dataset": dataset, "rows": rows, "columns": len(header), "findings": [
                         f"{f.column}:{f.pii_type}" for f in findings]})
    return scan
