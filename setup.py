"""Optional compiled build of the tariff engine's per-sample loops.

`src/evroam/tariffs/_kernel.py` is compiled with mypyc when mypyc and a C compiler are
available; otherwise (or with EVROAM_PURE_PYTHON=1) the package installs as pure Python
and runs the same module interpreted. All other metadata is in pyproject.toml.
"""

import os
import sys

from setuptools import setup

HOT_MODULES = ["src/evroam/tariffs/_kernel.py", "src/evroam/tariffs/engine.py"]


def compiled_modules() -> list:
    if os.environ.get("EVROAM_PURE_PYTHON") or sys.implementation.name != "cpython":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("evroam: mypyc is not available, installing the pure-Python tariff engine", file=sys.stderr)
        return []
    try:
        # the hot module imports only the standard library: type-check it alone
        extensions = mypycify(["--follow-imports=skip", *HOT_MODULES], opt_level="3", separate=True)
    except (Exception, SystemExit) as exc:  # mypyc refused the module: stay pure Python
        print(f"evroam: mypyc failed ({exc}), installing the pure-Python tariff engine", file=sys.stderr)
        return []
    for ext in extensions:
        ext.optional = True  # a failing C build leaves the pure-Python module in use
    return extensions


setup(ext_modules=compiled_modules())
