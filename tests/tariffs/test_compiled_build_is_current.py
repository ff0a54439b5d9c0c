"""A compiled (mypyc) module must never be older than its source: Python would load the stale
compiled code and silently ignore the edit. `make test` reinstalls when the sources change."""

from pathlib import Path

import evroam.tariffs

HERE = Path(evroam.tariffs.__file__).parent


def test_compiled_modules_are_not_older_than_their_sources():
    stale = []
    for source in ("engine.py", "_kernel.py"):
        src = HERE / source
        for built in HERE.glob(f"{src.stem}.*.so"):
            if built.stat().st_mtime < src.stat().st_mtime:
                stale.append(f"{built.name} is older than {source}")
    assert not stale, (
        "; ".join(stale) + ": rebuild with `.venv/bin/pip install -e .` (make test does it), "
        "or delete the .so files to run the interpreted engine"
    )
