"""Consent, the PII vault, discovery and masking, DSAR, retention and legal hold."""
