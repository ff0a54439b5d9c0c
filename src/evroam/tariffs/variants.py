"""Which build of the engine is loaded, and its interpreted variant.

`engine` and `_kernel` are compiled with mypyc when the package was installed with a C
compiler at hand (see setup.py); Python then loads the compiled modules. `pure_engine()`
loads the same source interpreted, under other module names, so tests and the benchmark can
compare the two builds in one process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from evroam.tariffs import _kernel, engine

_pure: ModuleType | None = None


def compiled() -> bool:
    """True when the loaded engine is the mypyc build."""
    return not engine.__file__.endswith(".py") and not _kernel.__file__.endswith(".py")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pure_engine() -> ModuleType:
    """The engine module run by the interpreter (with the interpreted `_kernel`)."""
    global _pure
    if _pure is None:
        here = Path(engine.__file__).parent
        kernel = _load("evroam.tariffs._kernel_interpreted", here / "_kernel.py")
        module = _load("evroam.tariffs._engine_interpreted", here / "engine.py")
        module._kernel = kernel  # type: ignore[attr-defined]
        _pure = module
    return _pure
