"""Envelope encryption for transcripts: AES-256-GCM data keys wrapped by versioned master keys.

Each conversation has its own random data key, so destroying that one wrapped key
(crypto-shredding) makes every copy of the conversation unreadable, backups included. The
associated data binds each ciphertext to its conversation, message and key version, so a
row copied or swapped into another place fails to decrypt instead of showing wrong text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.errors import DecryptionError, KeyConfigError

NONCE_BYTES = 12
KEY_BYTES = 32


@dataclass(frozen=True)
class Keyring:
    """Master keys by version; the highest version wraps new data keys."""

    keys: dict[int, bytes]

    @property
    def current_version(self) -> int:
        """The version used for new wraps."""
        return max(self.keys)

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Parses ``"1:<base64>,2:<base64>"``; a bare base64 key is version 1."""
        keys: dict[int, bytes] = {}
        for raw_entry in spec.split(","):
            entry = raw_entry.strip()
            if not entry:
                continue
            version_text, _, key_text = entry.rpartition(":")
            try:
                version = int(version_text) if version_text else 1
                key = base64.b64decode(key_text, validate=True)
            except (ValueError, binascii.Error) as exc:
                raise KeyConfigError(
                    "TSUNAGU_MASTER_KEY entries must look like '1:<base64 of 32 bytes>'"
                ) from exc
            if len(key) != KEY_BYTES or version < 1:
                raise KeyConfigError(
                    f"master key version {version} must be 32 bytes (AES-256) with version >= 1"
                )
            keys[version] = key
        if not keys:
            raise KeyConfigError("TSUNAGU_MASTER_KEY is empty")
        return cls(keys)

    def wrap(self, data_key: bytes, conversation_id: str) -> tuple[bytes, int]:
        """Encrypts a data key under the current master key; returns (blob, master version)."""
        version = self.current_version
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + AESGCM(self.keys[version]).encrypt(
            nonce, data_key, _wrap_aad(conversation_id, version)
        )
        return blob, version

    def unwrap(self, blob: bytes, conversation_id: str, version: int) -> bytes:
        """Decrypts a wrapped data key; fails if the key version is unknown or the blob altered."""
        key = self.keys.get(version)
        if key is None:
            raise DecryptionError(f"master key version {version} is not configured")
        try:
            return AESGCM(key).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], _wrap_aad(conversation_id, version)
            )
        except InvalidTag as exc:
            raise DecryptionError("wrapped data key failed authentication") from exc

    def seal(self, plaintext: bytes, *, purpose: str, item: str) -> tuple[bytes, int]:
        """Encrypts a short-lived blob (e.g. an inbox event) under the current master key.

        Only for data that exists before a conversation does; it is deleted once processed.
        """
        version = self.current_version
        nonce = os.urandom(NONCE_BYTES)
        aad = f"tsunagu/{purpose}/v1|{item}|{version}".encode()
        return nonce + AESGCM(self.keys[version]).encrypt(nonce, plaintext, aad), version

    def open(self, blob: bytes, *, purpose: str, item: str, version: int) -> bytes:
        """Decrypts a blob from :meth:`seal`, refusing it if moved or altered."""
        key = self.keys.get(version)
        if key is None:
            raise DecryptionError(f"master key version {version} is not configured")
        aad = f"tsunagu/{purpose}/v1|{item}|{version}".encode()
        try:
            return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise DecryptionError(f"{purpose} blob failed authentication") from exc


def _wrap_aad(conversation_id: str, version: int) -> bytes:
    return f"tsunagu/dek/v1|{conversation_id}|{version}".encode()


def _body_aad(conversation_id: str, message_id: str, key_version: int) -> bytes:
    return f"tsunagu/body/v1|{conversation_id}|{message_id}|{key_version}".encode()


def encrypt_item(
    data_key: bytes,
    plaintext: bytes,
    *,
    purpose: str,
    conversation_id: str,
    item: str,
    key_version: int,
) -> bytes:
    """Encrypts a conversation-bound blob other than a body (address, outgoing payload)."""
    nonce = os.urandom(NONCE_BYTES)
    aad = f"tsunagu/{purpose}/v1|{conversation_id}|{item}|{key_version}".encode()
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def decrypt_item(
    data_key: bytes, blob: bytes, *, purpose: str, conversation_id: str, item: str, key_version: int
) -> bytes:
    """Decrypts a blob from :func:`encrypt_item`."""
    aad = f"tsunagu/{purpose}/v1|{conversation_id}|{item}|{key_version}".encode()
    try:
        return AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise DecryptionError(f"{purpose} blob failed authentication") from exc


def new_data_key() -> bytes:
    """A fresh random AES-256 key for one conversation."""
    return AESGCM.generate_key(bit_length=256)


def encrypt_body(
    data_key: bytes, plaintext: str, *, conversation_id: str, message_id: str, key_version: int
) -> bytes:
    """Encrypts one message body; the result is nonce || ciphertext || tag."""
    nonce = os.urandom(NONCE_BYTES)
    aad = _body_aad(conversation_id, message_id, key_version)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext.encode("utf-8"), aad)


def decrypt_body(
    data_key: bytes, blob: bytes, *, conversation_id: str, message_id: str, key_version: int
) -> str:
    """Decrypts one body, refusing it if it was moved, altered or bound to another key version."""
    aad = _body_aad(conversation_id, message_id, key_version)
    try:
        return AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad).decode()
    except InvalidTag as exc:
        raise DecryptionError("message body failed authentication") from exc


def user_key(pepper: bytes, channel: str, user_ref: str) -> str:
    """HMAC-SHA256 pseudonym of a channel user id; analytics and logs only ever see this."""
    return hmac.new(pepper, f"{channel}:{user_ref}".encode(), hashlib.sha256).hexdigest()


def load_or_create_secret_file(path: Path, *, make: str) -> str:
    """Reads a local-development secret, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(make)
    return make


def generated_master_key_spec() -> str:
    """A new version-1 master key spec for local runs."""
    return "1:" + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
