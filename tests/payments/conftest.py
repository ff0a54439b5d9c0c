from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the ocpp-library charge points

from stripe_stub import StripeStub  # noqa: E402

from harness import free_socket, serve_app  # noqa: E402


@pytest.fixture
async def stripe_stub():
    """The local Stripe API (see stripe_stub.py), served on a free port: `.url`."""
    stub = StripeStub()
    sock = free_socket()
    stub.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server, task = await serve_app(stub.app, sock)
    yield stub
    server.should_exit = True
    await task
