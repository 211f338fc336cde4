"""`voicedesk keys rotate` re-seals every sealed column the schema has, none forgotten."""

from __future__ import annotations

from intake.db import Base
from intake.models import SealedBytes
from safeguards.rotation import sealed_columns
from safeguards.sealing import EnvelopeKeys, KeyRing, new_key_line


def test_every_sealed_column_of_the_schema_is_rotated() -> None:
    content, vault = KeyRing("content", new_key_line()), KeyRing("vault", new_key_line())
    rotated = {
        (c.model.__tablename__, c.column.key)
        for c in sealed_columns(content, vault, EnvelopeKeys(vault))
    }
    in_schema = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, SealedBytes)
    }
    assert in_schema == rotated
    assert ("notes", "text_sealed") in rotated
