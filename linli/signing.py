"""Signing and keyed hashing with LINLI_SECRET_KEY (签名).

Every key has a key id so keys can rotate: the first key signs, all keys verify. Keys are
derived per purpose, so an ID-number hash can never be replayed as a QR signature.
"""

from __future__ import annotations

import hashlib
import hmac


class Signer:
    def __init__(self, keys: tuple[tuple[str, bytes], ...]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._keys = dict(keys)
        self.active_kid = keys[0][0]

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def _derived(self, kid: str, purpose: str) -> bytes:
        return hmac.new(self._keys[kid], b"linli:" + purpose.encode(), hashlib.sha256).digest()

    def mac(self, purpose: str, message: bytes, kid: str | None = None) -> bytes:
        kid = kid or self.active_kid
        return hmac.new(self._derived(kid, purpose), message, hashlib.sha256).digest()

    def verify(self, purpose: str, message: bytes, mac: bytes, kid: str, length: int | None = None) -> bool:
        if kid not in self._keys:
            return False
        expected = self.mac(purpose, message, kid)
        if length is not None:
            expected = expected[:length]
        return hmac.compare_digest(expected, mac)

    def keyed_hashes(self, purpose: str, value: str) -> list[str]:
        """The value's keyed hash under every key, the active one first (for lookups across rotation)."""
        return [f"{kid}${self.mac(purpose, value.encode(), kid).hex()}" for kid in self._keys]

    def keyed_hash(self, purpose: str, value: str) -> str:
        return self.keyed_hashes(purpose, value)[0]


def sha256_hex(value: str) -> str:
    """For high-entropy secrets (tokens, API keys): a plain digest is enough and fast to look up."""
    return hashlib.sha256(value.encode()).hexdigest()
