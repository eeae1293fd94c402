"""Identity numbers encrypted at rest (证件号码加密): AES-256-GCM with a key set (密钥集).

Every stored value names its key: `<key id>:<base64(nonce + ciphertext + tag)>`. The first key of
the set encrypts, every key decrypts, so keys rotate: add a new key in front, re-encrypt in the
background (`linli keys rotate-ids`), then drop the old one. The associated data binds a value to
its row (`volunteer:<id>`): a value copied to another volunteer's row does not decrypt.

Keys come from LINLI_ID_KEYS (`k2:<base64 32 bytes>,k1:<base64 32 bytes>`); without it, one key
per LINLI_SECRET_KEY key is derived with HKDF-SHA256, its id a digest of the key (so a changed
secret never passes for the old one). Decryption is meant for one caller only,
`records.identity.reveal` (tests/test_architecture.py checks who calls `decrypt`); rotation
re-encrypts without handing the number out (`reencrypt`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_KID = re.compile(r"[A-Za-z0-9_-]{1,16}")
NONCE = 12


class IdCryptError(ValueError):
    """A value that does not decrypt: an unknown key id, a damaged value, or another row's value."""


def row_binding(volunteer_id: int) -> bytes:
    """The associated data of a volunteer's identity number."""
    return f"linli:volunteer:{volunteer_id}".encode()


class IdKeyring:
    def __init__(self, keys: tuple[tuple[str, bytes], ...]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        for kid, key in keys:
            if not _KID.fullmatch(kid) or len(key) != 32:
                raise ValueError(f"key {kid!r}: an id of letters/digits and 32 bytes are needed")
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.current = keys[0][0]

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def encrypt(self, plaintext: str, aad: bytes) -> tuple[str, str]:
        """(stored value, key id) under the current key."""
        nonce = os.urandom(NONCE)
        sealed = self._keys[self.current].encrypt(nonce, plaintext.encode(), aad)
        return f"{self.current}:{base64.b64encode(nonce + sealed).decode()}", self.current

    def decrypt(self, value: str, aad: bytes) -> str:
        kid, _, body = value.partition(":")
        cipher = self._keys.get(kid)
        if cipher is None:
            raise IdCryptError(f"unknown key id {kid!r}")
        try:
            raw = base64.b64decode(body, validate=True)
            return cipher.decrypt(raw[:NONCE], raw[NONCE:], aad).decode()
        except (InvalidTag, ValueError) as exc:
            raise IdCryptError("the value does not decrypt with its key and row") from exc

    def reencrypt(self, value: str, aad: bytes) -> tuple[str, str]:
        """The value under the current key (itself if already there); the number stays inside."""
        if key_id_of(value) == self.current:
            return value, self.current
        return self.encrypt(self.decrypt(value, aad), aad)


def key_id_of(value: str) -> str:
    return value.partition(":")[0]


def parse_id_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """`kid:base64key,kid:base64key` (the first encrypts) → ((kid, 32 bytes), ...)."""
    keys = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        kid, sep, b64 = part.partition(":")
        if not sep or not _KID.fullmatch(kid.strip()):
            raise ValueError(f"LINLI_ID_KEYS: {part[:6]!r}... is not `kid:base64key`")
        try:
            key = base64.b64decode(b64.strip(), validate=True)
        except ValueError:
            raise ValueError(f"LINLI_ID_KEYS: key {kid!r} is not base64") from None
        if len(key) != 32:
            raise ValueError(f"LINLI_ID_KEYS: key {kid!r} must be 32 bytes (base64 of 32 random bytes)")
        keys.append((kid.strip(), key))
    if not keys:
        raise ValueError("LINLI_ID_KEYS is empty")
    return tuple(keys)


def derived_keys(secret_keys: tuple[tuple[str, bytes], ...]) -> tuple[tuple[str, bytes], ...]:
    """One AES key per LINLI_SECRET_KEY key (HKDF-SHA256), its id `s` + a digest of the key."""
    out = []
    for _, secret in secret_keys:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"linli-id-keys", info=b"resident-id").derive(
            secret
        )
        out.append(("s" + hashlib.sha256(b"kid:" + key).hexdigest()[:8], key))
    return tuple(out)


def keyring_for(
    id_keys: tuple[tuple[str, bytes], ...], secret_keys: tuple[tuple[str, bytes], ...]
) -> IdKeyring:
    return IdKeyring(id_keys or derived_keys(secret_keys))


# --- whole files (导出文件) ---------------------------------------------------------------------
# An export for the national system holds full numbers: kept encrypted at rest as bytes,
# `<key id>:` + nonce + ciphertext, bound to its row (`aad`). Opened only by the audited download
# (`records.exports.take_file`; tests/test_architecture.py checks who calls `open_file`).


def seal_file(keys: IdKeyring, data: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return keys.current.encode() + b":" + nonce + keys._keys[keys.current].encrypt(nonce, data, aad)


def open_file(keys: IdKeyring, value: bytes, aad: bytes) -> bytes:
    kid, _, raw = bytes(value).partition(b":")
    cipher = keys._keys.get(kid.decode(errors="replace"))
    if cipher is None:
        raise IdCryptError(f"unknown key id {kid!r}")
    try:
        return cipher.decrypt(raw[:NONCE], raw[NONCE:], aad)
    except (InvalidTag, ValueError) as exc:
        raise IdCryptError("the file does not decrypt with its key and row") from exc
