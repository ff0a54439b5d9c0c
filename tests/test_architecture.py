"""The layering of the application (pyproject.toml, [tool.importlinter]): adapters call
services, services reach chargers and partners only through their ports, the store and the
pure packages know nothing above them. A change that breaks a contract fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_services_define_the_ports_adapters_implement():
    """The OCPP charger control and the OCPI partner calls offer every method of their port."""
    from evroam.ocpi.outbox import Pushes
    from evroam.ocpi.partner_calls import OcpiPartnerCalls
    from evroam.ocpp.control import OcppChargerControl
    from evroam.services import ports

    for port, adapter in ((ports.ChargerControl, OcppChargerControl), (ports.PartnerCalls, OcpiPartnerCalls),
                          (ports.PartnerPushes, Pushes)):
        wanted = {name for name in vars(port) if not name.startswith("_")}
        missing = sorted(name for name in wanted if not callable(getattr(adapter, name, None)))
        assert missing == [], f"{adapter.__name__} lacks {missing} of {port.__name__}"
