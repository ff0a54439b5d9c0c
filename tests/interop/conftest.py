"""Fixtures of the interoperability tests: a separate venv holding the third-party OCPI
implementation (it cannot live in the project's venv) and a launcher of that party as a
subprocess on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
INTEROP_VENV = Path(os.environ.get("EVROAM_INTEROP_VENV", ROOT / ".venv-interop"))
# extrawest-ocpi pins pydantic==1.10.12, fastapi==0.101.1 and httpx==0.24.1.
REQUIREMENTS = ("extrawest-ocpi==2025.7.16", "uvicorn")
STAMP = INTEROP_VENV / ".installed"
PARTY_SCRIPT = Path(__file__).with_name("extrawest_party.py")
READY_TIMEOUT = 30.0


def _venv_python() -> Path:
    return INTEROP_VENV / "bin" / "python"


def _installed() -> bool:
    try:
        return STAMP.read_text().split() == list(REQUIREMENTS) and _venv_python().exists()
    except OSError:
        return False


def ensure_interop_venv() -> Path:
    """Create `.venv-interop` with the third-party package once; later runs reuse it (the stamp
    file lists what was installed). Raises RuntimeError when it cannot be built."""
    if _installed():
        return _venv_python()
    INTEROP_VENV.mkdir(parents=True, exist_ok=True)
    with open(INTEROP_VENV / ".lock", "w") as lock:  # two test runs at once build it only once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed():
            return _venv_python()
        steps = [
            [sys.executable, "-m", "venv", str(INTEROP_VENV)],
            [str(_venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--timeout", "30", "--retries", "2", *REQUIREMENTS],
        ]
        for cmd in steps:
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise RuntimeError(f"{' '.join(cmd)}: {exc}") from None
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-8:]
                raise RuntimeError(f"{' '.join(cmd)} failed (exit {done.returncode}):\n" + "\n".join(tail))
        STAMP.write_text(" ".join(REQUIREMENTS) + "\n")
    return _venv_python()


@pytest.fixture(scope="session")
def interop_python() -> Path:
    """The interpreter of the interop venv; the tests are skipped when it cannot be built
    (for example without access to a package registry)."""
    try:
        return ensure_interop_venv()
    except RuntimeError as exc:
        pytest.skip(f"interop venv {INTEROP_VENV} with {', '.join(REQUIREMENTS)} could not be built "
                    f"(is a package registry reachable?): {exc}")


@dataclass
class Party:
    """A running third-party OCPI party (a subprocess)."""

    proc: asyncio.subprocess.Process
    log_path: Path
    port: int = 0
    versions_url: str = ""
    lines: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-6000:]
        except OSError:
            return ""

    async def expect(self, *keywords: str, within: float = READY_TIMEOUT) -> tuple[str, dict[str, Any]]:
        """The next stdout line starting with one of `keywords`: (keyword, payload)."""
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(within):
                while True:
                    raw = await self.proc.stdout.readline()
                    if not raw:
                        await self.proc.wait()
                        raise AssertionError(f"the party exited ({self.proc.returncode}) before {keywords}:\n"
                                             f"{self.log()}")
                    keyword, _, payload = raw.decode().strip().partition(" ")
                    if keyword in keywords:
                        item = (keyword, json.loads(payload or "{}"))
                        self.lines.append(item)
                        return item
        except TimeoutError:
            raise AssertionError(f"no {keywords} line from the party within {within} s:\n{self.log()}") from None

    async def state(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=5.0) as http:
            r = await http.get(f"{self.url}/_control/state")
            r.raise_for_status()
            return r.json()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def extrawest(interop_python, tmp_path):
    """Factory: `await extrawest(*args)` starts `extrawest_party.py` with those arguments on a
    free port and waits for its READY line. Every party is stopped at the end of the test,
    whatever the outcome."""
    parties: list[Party] = []

    async def start(*args: str) -> Party:
        n = len(parties) + 1
        log_path = tmp_path / f"extrawest-{n}.log"
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            proc = await asyncio.create_subprocess_exec(
                str(interop_python), str(PARTY_SCRIPT), "--port", "0", *args,
                stdout=asyncio.subprocess.PIPE, stderr=log, stdin=asyncio.subprocess.DEVNULL,
                cwd=tmp_path,  # the library reads a `.env` from the working directory
                env={k: v for k, v in os.environ.items() if not k.startswith(("OCPI_", "PYTHON"))},
            )
        finally:
            os.close(log)  # the child has its own copy
        party = Party(proc, log_path)
        parties.append(party)
        _, ready = await party.expect("READY")
        party.port, party.versions_url = ready["port"], ready["versions_url"]
        return party

    try:
        yield start
    finally:
        for party in parties:
            await party.stop()
