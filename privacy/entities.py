"""The PII entity types, shared by the redactor, the synthetic corpus and the benchmark."""

ENTITY_TYPES: tuple[str, ...] = (
    "phone",
    "postal_code",
    "email",
    "line_user_id",
    "card_number",
    "my_number",
    "bank_account",
    "birth_date",
    "address",
    "person_name",
)
# Types with a fixed format; the recall target for these is 0.99 (addresses/names: 0.95).
STRUCTURED_TYPES: tuple[str, ...] = ENTITY_TYPES[:8]
