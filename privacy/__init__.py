"""Privacy: Japanese PII redaction and its synthetic evaluation corpus."""
