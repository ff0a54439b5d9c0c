from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocpp"))  # the ocpp-library charge points

from stripe_stub import stripe_stub  # noqa: E402,F401  (the fixture)
