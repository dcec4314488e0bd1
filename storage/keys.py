"""Loading the master keyring and the user-key pepper from configuration.

Production reads both from the environment (start-up fails without them, see
``core.config``). Local runs generate them once under ``data_dir/keys`` (mode 0600) so
``make run`` works with no set-up and restarts can still decrypt.
"""

from __future__ import annotations

import secrets

from core.config import Settings
from storage.crypto import Keyring, generated_master_key_spec, load_or_create_secret_file


def load_keyring(settings: Settings) -> Keyring:
    """The master keyring from TSUNAGU_MASTER_KEY, or the generated local key file."""
    if settings.master_key is not None:
        return Keyring.parse(settings.master_key.get_secret_value())
    path = settings.resolved_data_dir / "keys" / "master.key"
    return Keyring.parse(load_or_create_secret_file(path, make=generated_master_key_spec()))


def load_pepper(settings: Settings) -> bytes:
    """The HMAC pepper from TSUNAGU_USER_KEY_PEPPER, or the generated local pepper file."""
    if settings.user_key_pepper is not None:
        return settings.user_key_pepper.get_secret_value().encode()
    path = settings.resolved_data_dir / "keys" / "pepper"
    return load_or_create_secret_file(path, make=secrets.token_urlsafe(32)).encode()
