"""PII discovery: scanners (``scanners``), column sampling and scans (``scan``), steward review
(``review``). Findings stay in privacy's own tables until the catalog picks confirmed tags up."""

from privacy.discovery.review import DISCOVERY_REVIEW, finding_review
from privacy.discovery.scan import DISCOVERY_SCAN, SAMPLE_ROWS, column_findings, discovery_scan, sample_columns

__all__ = ["DISCOVERY_REVIEW", "DISCOVERY_SCAN", "SAMPLE_ROWS", "column_findings", "discovery_scan",
           "finding_review", "sample_columns"]
