"""Errors raised by the storage layer."""


class StorageError(Exception):
    """Base class for storage errors."""


class KeyConfigError(StorageError):
    """The master key or pepper configuration is missing or malformed."""


class DecryptionError(StorageError):
    """A body could not be decrypted: wrong key, tampered row, or a shredded conversation."""


class ConversationShredded(DecryptionError):
    """The conversation's data key was destroyed (retention or erasure); its text is gone."""
