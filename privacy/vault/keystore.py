"""Key-encryption keys (KEKs): a keystore file, or a KMS behind the same small interface.

The keystore is a JSON file readable by its owner only (mode 0400, enforced on every load): numbered
256-bit keys, one of them *active* (new data keys are wrapped with it) and the newer ones on
*standby* (a rotation moves an org's data keys onto one; see ``privacy.vault.rotation``). Production names it with
``DOS_VAULT_KEYSTORE`` (or a KMS adapter with ``DOS_VAULT_KMS``) and refuses to start without one;
dev and test create one under ``var/vault/`` on first use. Key material never leaves this module:
providers wrap and unwrap data keys, and their ``repr`` names versions only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
import threading
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.utils.module_loading import import_string

KEYSTORE_MODE = 0o400
KEY_BYTES = 32


class KeystoreError(RuntimeError):
    """The keystore is missing, unreadable, too widely readable, or lacks a key version."""


class KeyProvider(Protocol):
    """What the vault needs from a keystore or a KMS (the adapter interface)."""

    def active_version(self) -> int: ...

    def versions(self) -> list[int]: ...

    def wrap(self, version: int, key: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes: ...


class FileKeystore:
    """KEKs from a 0400 JSON file: ``{"format": 1, "active": 1, "keys": [{"version": 1, "key": "<base64>"}, …]}``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        keys, self._active = read_keystore(self.path)
        self._keys = {version: AESGCM(key) for version, key in keys.items()}

    def __repr__(self) -> str:
        return f"<FileKeystore {self.path} versions={self.versions()}>"

    def versions(self) -> list[int]:
        return sorted(self._keys)

    def active_version(self) -> int:
        return self._active

    def _kek(self, version: int) -> AESGCM:
        try:
            return self._keys[version]
        except KeyError:
            raise KeystoreError(f"KEK version {version} is not in the keystore") from None

    def wrap(self, version: int, key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._kek(version).encrypt(nonce, key, aad)

    def unwrap(self, version: int, wrapped: bytes, aad: bytes) -> bytes:
        wrapped = bytes(wrapped)
        try:
            return self._kek(version).decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag as exc:
            raise KeystoreError(f"the data key does not open with KEK version {version}") from exc


def check_mode(path: Path) -> None:
    info = path.stat()
    if stat.S_IMODE(info.st_mode) != KEYSTORE_MODE:
        raise KeystoreError(f"The keystore {path} must have mode 0400 (owner read only); it has "
                            f"{stat.S_IMODE(info.st_mode):04o}. Run: chmod 0400 {path}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise KeystoreError(f"The keystore {path} must belong to the user running DecisionOS.")


def read_keys(path: Path) -> dict[int, bytes]:
    return read_keystore(path)[0]


def read_keystore(path: Path) -> tuple[dict[int, bytes], int]:
    """The keys by version and the active version."""
    if not path.exists():
        raise KeystoreError(f"No keystore at {path} (DOS_VAULT_KEYSTORE).")
    check_mode(path)
    try:
        document = json.loads(path.read_text())
        keys = {int(item["version"]): base64.b64decode(item["key"]) for item in document["keys"]}
        active = int(document.get("active") or max(keys))
    except (ValueError, KeyError, TypeError) as exc:
        raise KeystoreError(f"The keystore {path} is not a valid keystore document.") from exc
    if not keys or any(len(key) != KEY_BYTES for key in keys.values()):
        raise KeystoreError(f"The keystore {path} needs at least one key of {KEY_BYTES} bytes per version.")
    if active not in keys:
        raise KeystoreError(f"The keystore {path} names active version {active}, which it does not hold.")
    return keys, active


def _write(path: Path, keys: dict[int, bytes], *, active: int, replace: bool) -> None:
    """Write atomically with mode 0400 from the start (never a moment readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    document = {"format": 1, "active": active, "keys": [{"version": v, "key": base64.b64encode(k).decode(), "added": now}
                                      for v, k in sorted(keys.items())]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEYSTORE_MODE)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(document, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, KEYSTORE_MODE)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if another process created it first: theirs wins
    except FileExistsError:
        pass
    finally:
        if tmp.exists():
            tmp.unlink()


def create_keystore(path: str | Path) -> Path:
    """A new keystore: version 1 active and version 2 on standby; an existing file is left untouched."""
    path = Path(path)
    if not path.exists():
        _write(path, {1: os.urandom(KEY_BYTES), 2: os.urandom(KEY_BYTES)}, active=1, replace=False)
    return path


def add_key_version(path: str | Path) -> int:
    """Append a fresh key on standby as the next version; returns its number."""
    path = Path(path)
    keys, active = read_keystore(path)
    version = max(keys) + 1
    _write(path, {**keys, version: os.urandom(KEY_BYTES)}, active=active, replace=True)
    reset_provider()
    return version


def promote_key_version(path: str | Path, version: int) -> None:
    """Make ``version`` the active one: new data keys of every org are wrapped with it from now on."""
    path = Path(path)
    keys, active = read_keystore(path)
    if version not in keys or version < active:
        raise KeystoreError(f"Version {version} cannot become active (held: {sorted(keys)}, active: {active}).")
    _write(path, keys, active=version, replace=True)
    reset_provider()


def remove_key_version(path: str | Path, version: int) -> None:
    """Drop a retired version from the file (after every org completed its rotation away from it)."""
    path = Path(path)
    keys, active = read_keystore(path)
    if version >= active:
        raise KeystoreError("Only versions older than the active one can be removed.")
    keys.pop(version, None)
    _write(path, keys, active=active, replace=True)
    reset_provider()


def keystore_path() -> Path | None:
    configured = settings.DOS_VAULT_KEYSTORE
    return Path(configured) if configured else None


_lock = threading.Lock()
_cached: dict[tuple, KeyProvider] = {}


def key_provider() -> KeyProvider:
    """The configured provider: the KMS adapter if ``DOS_VAULT_KMS`` names one, else the keystore
    file (created on first use in dev and test only). Cached per configuration and file version."""
    kms = getattr(settings, "DOS_VAULT_KMS", "")
    path = keystore_path()
    signature: tuple
    if kms:
        signature = ("kms", kms)
    else:
        if path is None:
            raise KeystoreError("No keystore configured: set DOS_VAULT_KEYSTORE (or DOS_VAULT_KMS).")
        if not path.exists() and settings.DOS_VAULT_KEYSTORE_AUTOCREATE:
            create_keystore(path)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise KeystoreError(f"No keystore at {path} (DOS_VAULT_KEYSTORE).") from None
        signature = ("file", str(path), info.st_mtime_ns, info.st_ino)
    with _lock:
        provider = _cached.get(signature)
        if provider is None:
            provider = import_string(kms)() if kms else FileKeystore(path)
            _cached.clear()
            _cached[signature] = provider
        return provider


def reset_provider() -> None:
    with _lock:
        _cached.clear()
