"""Sealing personal data at rest: the interface the privacy vault implements, and its registry.

Callers below the privacy app (redacted case notes in ``hitl``) seal through :func:`vault`, which
returns the implementation the privacy app registered in its ``AppConfig.ready()`` (vault v2,
``privacy.vault``, ADR 0015): envelope encryption with a data key per (org, subject), wrapped by a
key-encryption key from a keystore, so erasing a subject (crypto-shredding) makes every value sealed
for them unreadable at once.

The version-1 format (a per-org key derived from ``DOS_VAULT_KEY`` by HKDF, ``b"v1" + nonce +
ciphertext``) is kept only to open values sealed before v2, so the re-sealing migration can move
them; nothing new is sealed with it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from dos.errors import DomainError

V1 = b"v1"


class VaultError(DomainError):
    """The sealed value cannot be opened (wrong org or place, tampered, or its key is refused)."""

    status, code = 409, "vault_error"


class Erased(VaultError):
    """The subject was erased: its data key is destroyed and the value can never be opened again."""

    status, code = 410, "erased"


class Vault(Protocol):
    def seal(self, *, actor, org_id, subject_token: str, table: str, row: str, field: str,
             plaintext: bytes) -> str: ...

    def unseal(self, *, actor, org_id, sealed, purpose: str, approval=None) -> bytes: ...

    def erase_subject(self, *, actor, org_id, subject_token: str, reason: str): ...

    def is_erased(self, *, org_id, subject_token: str) -> bool: ...


_registered: list[Vault] = []


def register_vault(implementation: Vault) -> Vault:
    """Install the vault (the privacy app does, once); a second, different one is refused."""
    if _registered and _registered[0] is not implementation:
        raise RuntimeError(f"A vault is registered already: {_registered[0]!r}")
    if not _registered:
        _registered.append(implementation)
    return implementation


def vault() -> Vault:
    if not _registered:
        raise RuntimeError("No vault is registered: the privacy app registers one in its ready().")
    return _registered[0]


def is_v1(sealed) -> bool:
    return sealed is not None and bytes(sealed[:2]) == V1


class LegacyV1Vault:
    """Opens version-1 values (per-org HKDF key from ``DOS_VAULT_KEY``); used by the re-sealing migration."""

    def __init__(self, master_key: bytes):
        if len(master_key) < 32:
            raise ValueError("the vault master key must be at least 32 bytes")
        self._master = master_key

    def _key(self, org_id) -> AESGCM:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"decisionos-vault",
                       info=f"org:{org_id}".encode()).derive(self._master)
        return AESGCM(derived)

    def seal(self, *, org_id, purpose: str, plaintext: bytes) -> bytes:
        """Only for tests that build version-1 data to migrate."""
        import os

        nonce = os.urandom(12)
        return V1 + nonce + self._key(org_id).encrypt(nonce, plaintext, f"{org_id}|{purpose}".encode())

    def unseal(self, *, org_id, purpose: str, sealed: bytes) -> bytes:
        sealed = bytes(sealed)
        if not sealed.startswith(V1) or len(sealed) < 2 + 12 + 16:
            raise VaultError("not a version-1 sealed value")
        try:
            return self._key(org_id).decrypt(sealed[2:14], sealed[14:], f"{org_id}|{purpose}".encode())
        except InvalidTag as exc:
            raise VaultError("the version-1 value does not open for this org and purpose") from exc


def legacy_v1() -> LegacyV1Vault:
    configured = settings.DOS_VAULT_KEY
    if configured:
        return LegacyV1Vault(base64.urlsafe_b64decode(configured + "=" * (-len(configured) % 4)))
    return LegacyV1Vault(hashlib.sha256(f"vault:{settings.SECRET_KEY}".encode()).digest())
