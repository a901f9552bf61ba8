"""Vault v2: envelope encryption per (org, subject), KEK rotation and crypto-shredding (ADR 0015).

The interface other code calls (``seal``, ``unseal``, ``erase_subject``, ``is_erased``); apps below
privacy reach the same functions through ``dos.vault.vault()``.
"""

from dos.vault import Erased, VaultError
from privacy.vault.services import (
    RECEIPT_KEY_PREFIX,
    REQUEST_KEY_PREFIX,
    REQUEST_TABLE,
    ErasureResult,
    approval_target,
    erase_subject,
    is_erased,
    seal,
    unseal,
    unseal_request,
)

__all__ = ["RECEIPT_KEY_PREFIX", "REQUEST_KEY_PREFIX", "REQUEST_TABLE", "Erased", "ErasureResult", "VaultError",
           "approval_target", "erase_subject", "is_erased", "seal", "unseal", "unseal_request"]
