"""Envelope encryption: AES-256-GCM under a subject's data key, with the place bound in.

Sealed text: ``vs2.`` + base64url of ``0x02 ‖ key id (16) ‖ data key version (2) ‖ table ‖ row ‖
field (each length-prefixed) ‖ nonce (12, random) ‖ ciphertext ‖ tag``. The associated data is
``org|table|row|field|key id.version``: a value copied to another org, row or field, or re-labelled
in its header, fails to open instead of leaking. The header names where the value belongs; it holds
no personal data.
"""

from __future__ import annotations

import base64
import os
import struct
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dos.vault import VaultError

PREFIX = "vs2."
FORMAT = 2
NONCE_BYTES = 12
DATA_KEY_BYTES = 32
_MAX_PART = 255


@dataclass(frozen=True)
class Sealed:
    key_id: uuid.UUID
    key_version: int
    table: str
    row: str
    field: str
    nonce: bytes
    body: bytes

    @property
    def place(self) -> str:
        return f"{self.table}:{self.row}:{self.field}"


def aad(org_id, table: str, row: str, field: str, key_id: uuid.UUID, key_version: int) -> bytes:
    return f"{org_id}|{table}|{row}|{field}|{key_id}.{key_version}".encode()


def _part(value: str) -> bytes:
    raw = str(value).encode()
    if len(raw) > _MAX_PART:
        raise VaultError(f"'{value[:40]}…' is too long to name a sealed value's place (255 bytes at most).")
    return bytes([len(raw)]) + raw


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_BYTES)


def encrypt(cipher: AESGCM, *, org_id, key_id: uuid.UUID, key_version: int, table: str, row: str, field: str,
            plaintext: bytes) -> str:
    header = bytes([FORMAT]) + key_id.bytes + struct.pack(">H", key_version) + _part(table) + _part(row) + _part(field)
    nonce = os.urandom(NONCE_BYTES)
    body = cipher.encrypt(nonce, bytes(plaintext), aad(org_id, table, str(row), field, key_id, key_version))
    return PREFIX + base64.urlsafe_b64encode(header + nonce + body).decode().rstrip("=")


def parse(sealed) -> Sealed:
    if isinstance(sealed, (bytes, bytearray, memoryview)):
        sealed = bytes(sealed).decode("ascii", errors="replace")
    if not isinstance(sealed, str) or not sealed.startswith(PREFIX):
        raise VaultError("Not a vault v2 sealed value.")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(PREFIX):] + "=" * (-len(sealed[len(PREFIX):]) % 4))
        if raw[0] != FORMAT:
            raise ValueError("format")
        key_id, (version,) = uuid.UUID(bytes=raw[1:17]), struct.unpack(">H", raw[17:19])
        at, parts = 19, []
        for _ in range(3):
            size = raw[at]
            parts.append(raw[at + 1:at + 1 + size].decode())
            at += 1 + size
        nonce, body = raw[at:at + NONCE_BYTES], raw[at + NONCE_BYTES:]
        if len(nonce) != NONCE_BYTES or len(body) < 16:
            raise ValueError("short")
    except (ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
        raise VaultError("The sealed value is damaged.") from exc
    return Sealed(key_id, version, parts[0], parts[1], parts[2], nonce, body)


def decrypt(cipher: AESGCM, *, org_id, sealed: Sealed) -> bytes:
    try:
        return cipher.decrypt(sealed.nonce, sealed.body, aad(org_id, sealed.table, sealed.row, sealed.field,
                                                            sealed.key_id, sealed.key_version))
    except InvalidTag as exc:
        raise VaultError("The sealed value does not open here (another org or place, or tampered).") from exc


def wrap_aad(org_id, key_id: uuid.UUID, subject_token: str, kek_version: int) -> bytes:
    """Associated data of a wrapped data key: the key's org, id, subject and KEK version."""
    return f"dek|{org_id}|{key_id}|{subject_token}|{kek_version}".encode()
