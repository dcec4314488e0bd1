import base64

import pytest

from storage.crypto import Keyring, decrypt_body, encrypt_body, new_data_key, user_key
from storage.errors import DecryptionError, KeyConfigError


def spec(version: int, byte: int) -> str:
    return f"{version}:" + base64.b64encode(bytes([byte]) * 32).decode()


def test_body_roundtrip_and_binding() -> None:
    key = new_data_key()
    blob = encrypt_body(key, "こんにちは", conversation_id="c1", message_id="m1", key_version=1)
    assert (
        decrypt_body(key, blob, conversation_id="c1", message_id="m1", key_version=1)
        == "こんにちは"
    )
    for moved in (
        {"conversation_id": "c2", "message_id": "m1", "key_version": 1},
        {"conversation_id": "c1", "message_id": "m2", "key_version": 1},
        {"conversation_id": "c1", "message_id": "m1", "key_version": 2},
    ):
        with pytest.raises(DecryptionError):
            decrypt_body(key, blob, **moved)  # type: ignore[arg-type]
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        decrypt_body(key, tampered, conversation_id="c1", message_id="m1", key_version=1)


def test_nonces_are_random() -> None:
    key = new_data_key()
    a = encrypt_body(key, "x", conversation_id="c", message_id="m", key_version=1)
    b = encrypt_body(key, "x", conversation_id="c", message_id="m", key_version=1)
    assert a[:12] != b[:12]


def test_rotation_old_versions_still_unwrap() -> None:
    old = Keyring.parse(spec(1, 1))
    data_key = new_data_key()
    wrapped, version = old.wrap(data_key, "conv")
    rotated = Keyring.parse(f"{spec(1, 1)},{spec(2, 2)}")
    assert rotated.current_version == 2
    assert rotated.unwrap(wrapped, "conv", version) == data_key
    assert rotated.wrap(data_key, "conv")[1] == 2
    with pytest.raises(DecryptionError):
        Keyring.parse(spec(2, 2)).unwrap(wrapped, "conv", version)


@pytest.mark.parametrize("bad", ["", "1:notbase64!!", "1:" + base64.b64encode(b"short").decode()])
def test_bad_master_key_config_is_clear(bad: str) -> None:
    with pytest.raises(KeyConfigError):
        Keyring.parse(bad)


def test_user_key_is_keyed() -> None:
    uid = "U" + "a" * 32
    assert user_key(b"p1", "line", uid) != user_key(b"p2", "line", uid)
    assert uid not in user_key(b"p1", "line", uid)
