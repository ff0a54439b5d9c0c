"""Validation of a DATEX II document against the official v3.7 schemas (`schema/`)."""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).with_name("schema")
ROOT_SCHEMA = SCHEMA_DIR / "DATEXII_3_D2Payload.xsd"


class DatexInvalid(ValueError):
    """The document is not valid DATEX II: `errors` lists the schema's complaints (line: message)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]) + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""))
        self.errors = errors


@functools.cache
def schema() -> etree.XMLSchema:
    """The DATEX II 3.7 schema set (every namespace of the release), loaded once."""
    return etree.XMLSchema(etree.parse(str(ROOT_SCHEMA)))


def validate(document: bytes | etree._Element) -> None:
    """Raise DatexInvalid unless `document` is a valid DATEX II payload."""
    tree = etree.fromstring(document) if isinstance(document, bytes) else document
    checker = schema()
    if not checker.validate(tree):
        raise DatexInvalid([f"line {e.line}: {e.message}" for e in checker.error_log])
