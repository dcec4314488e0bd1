"""Privacy: PII redaction, consent notice, retention, erasure and master-key re-wrapping.

Keep this file free of imports: ``storage`` imports ``privacy.redact``, while the
retention and erasure modules sit above ``storage``.
"""
