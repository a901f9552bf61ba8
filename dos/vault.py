"""Sealing personal data at rest: the interface the privacy vault implements.

Callers (redacted case notes today) hand over plaintext and keep only the sealed bytes; reading the
original back is a separate, audited step in the caller. The built-in implementation is AES-256-GCM
(`cryptography`) with a per-org key derived from ``DOS_VAULT_KEY`` by HKDF-SHA256, and the org and
purpose bound into the ciphertext as associated data — a sealed blob copied to another org or
another purpose fails to open instead of leaking.

Sealed format: ``b"v1" + nonce(12) + ciphertext‖tag``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

VERSION = b"v1"


class VaultError(Exception):
    """The sealed value cannot be opened (wrong org or purpose, tampered, or another key)."""


class Vault(Protocol):
    def seal(self, *, org_id, purpose: str, plaintext: bytes) -> bytes: ...

    def unseal(self, *, org_id, purpose: str, sealed: bytes) -> bytes: ...


class AesGcmVault:
    def __init__(self, master_key: bytes):
        if len(master_key) < 32:
            raise ValueError("the vault master key must be at least 32 bytes")
        self._master = master_key

    def _key(self, org_id) -> AESGCM:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"decisionos-vault",
                       info=f"org:{org_id}".encode()).derive(self._master)
        return AESGCM(derived)

    @staticmethod
    def _aad(org_id, purpose: str) -> bytes:
        return f"{org_id}|{purpose}".encode()

    def seal(self, *, org_id, purpose: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return VERSION + nonce + self._key(org_id).encrypt(nonce, plaintext, self._aad(org_id, purpose))

    def unseal(self, *, org_id, purpose: str, sealed: bytes) -> bytes:
        sealed = bytes(sealed)
        if not sealed.startswith(VERSION) or len(sealed) < 2 + 12 + 16:
            raise VaultError("not a sealed value")
        nonce, body = sealed[2:14], sealed[14:]
        try:
            return self._key(org_id).decrypt(nonce, body, self._aad(org_id, purpose))
        except InvalidTag as exc:
            raise VaultError("the sealed value does not open for this org and purpose") from exc


def _master_key() -> bytes:
    configured = settings.DOS_VAULT_KEY
    if configured:
        return base64.urlsafe_b64decode(configured + "=" * (-len(configured) % 4))
    # dev/test only (settings refuse to start production without DOS_VAULT_KEY).
    return hashlib.sha256(f"vault:{settings.SECRET_KEY}".encode()).digest()


def vault() -> Vault:
    return AesGcmVault(_master_key())
