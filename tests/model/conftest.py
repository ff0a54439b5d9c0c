"""Access to the OCPI specification examples (tests/data/ocpi-examples, or the folder named by
EVROAM_OCPI_EXAMPLES)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(
    os.environ.get(
        "EVROAM_OCPI_EXAMPLES", Path(__file__).resolve().parents[1] / "data" / "ocpi-examples"
    )
)


def load_example(name: str, version: str = "2.2.1") -> Any:
    path = EXAMPLES / version / name
    if not path.is_file():
        pytest.skip(f"OCPI example {version}/{name} not available at {EXAMPLES}")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def example():
    """`example(name, version="2.2.1")` -> the parsed JSON of one specification example."""
    return load_example


def errors_of(model: type, data: Any) -> list[str]:
    """The `field_errors()` lines validation of `data` as `model` produces (fails if it validates)."""
    from pydantic import ValidationError

    from evroam.model.common import field_errors

    try:
        model.model_validate(data)
    except ValidationError as exc:
        return field_errors(exc)
    raise AssertionError(f"{model.__name__} accepted {data!r}")


@pytest.fixture
def invalid():
    """`invalid(Model, data)` -> the field error lines (asserts that validation fails)."""
    return errors_of


@pytest.fixture
def examples_dir() -> Path:
    """The folder holding one sub-folder of examples per OCPI version."""
    return EXAMPLES
