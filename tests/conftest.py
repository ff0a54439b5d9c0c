from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import Instance, example_dir  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """The long fuzzing runs (marker `fuzz`) run only when a -m expression names them."""
    if "fuzz" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("fuzz") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("fuzz") is not None])
        items[:] = kept


@pytest.fixture
def examples():
    path = example_dir("2.2.1")
    if not path.is_dir():
        pytest.skip(f"OCPI examples not found at {path} (they are kept in tests/data/ocpi-examples)")
    return path


@pytest.fixture
async def make_instance(tmp_path):
    """Factory of running evroam instances; all are stopped at the end of the test."""
    created: list[Instance] = []

    async def make(name: str = "evroam", *, serve: bool = True, **kwargs) -> Instance:
        inst = Instance(db_path=tmp_path / f"{name}.db", **kwargs)
        created.append(inst)
        return await inst.start(serve=serve)

    yield make
    for inst in created:
        await inst.close()


@pytest.fixture
async def instance(make_instance):
    return await make_instance()
