"""A KMS behind the vault's key-provider interface (``DOS_VAULT_KMS`` names a factory).

A cloud KMS keeps the KEKs itself and wraps/unwraps data keys by API; this adapter maps the vault's
numbered KEK versions to the KMS's key ids and passes the associated data through, so the same
rotation and refusal rules apply. Write a client with ``encrypt(key_id, plaintext, aad)`` and
``decrypt(key_id, ciphertext, aad)`` and a factory returning ``KmsKeyProvider(client, {1: "…"})``.
"""

from __future__ import annotations

from typing import Protocol

from privacy.vault.keystore import KeystoreError


class KmsClient(Protocol):
    def encrypt(self, key_id: str, plaintext: bytes, aad: bytes) -> bytes: ...

    def decrypt(self, key_id: str, ciphertext: bytes, aad: bytes) -> bytes: ...


class KmsKeyProvider:
    def __init__(self, client: KmsClient, key_ids: dict[int, str], active: int | None = None):
        if not key_ids:
            raise KeystoreError("A KMS provider needs at least one key id.")
        self.client = client
        self.key_ids = dict(key_ids)
        self.active = active or max(self.key_ids)

    def __repr__(self) -> str:
        return f"<KmsKeyProvider versions={self.versions()}>"

    def versions(self) -> list[int]:
        return sorted(self.key_ids)

    def active_version(self) -> int:
        return self.active

    def _key_id(self, version: int) -> str:
        try:
            return self.key_ids[version]
        except KeyError:
            raise KeystoreError(f"KEK version {version} is not configured in the KMS adapter") from None

    def wrap(self, version: int, key: bytes, aad: bytes) -> bytes:
        return self.client.encrypt(self._key_id(version), key, aad)

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self.client.decrypt(self._key_id(version), bytes(wrapped), aad)
        except KeystoreError:
            raise
        except Exception as exc:  # the client's own error type
            raise KeystoreError(f"The KMS refused to unwrap with KEK version {version}") from exc
