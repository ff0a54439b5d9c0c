"""The push to a National Access Point over mutual TLS (a local NAP: uvicorn requiring a client
certificate signed by its CA): at start the DATEX II table and a full status snapshot; a status
change as a delta holding only the charging point that changed, within `nap_delta_seconds` (AFIR:
60 s); every document valid against the DATEX II schemas. Without our certificate the NAP takes
nothing."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time

import httpx
import pytest
import uvicorn
from charge_points import COMMANDED, PASSWORD, charge_point
from lxml import etree
from ocpp.v16 import call
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evroam.demo import load_demo
from evroam.public import datex2
from harness import free_socket, wait_for

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
NS = {"aegi": datex2.publications.NS["aegi"], "afac": datex2.publications.NS["afac"]}


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path):
    """A CA, the NAP's server certificate for 127.0.0.1, our client certificate."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=NAP test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=tmp_path)
    for name, subject, ext in [("nap", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
                               ("cpo", "/O=evroam/CN=NL*EVR", "extendedKeyUsage=clientAuth")]:
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", cwd=tmp_path)
        (tmp_path / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=tmp_path)
    return tmp_path


@pytest.fixture
async def nap(pki):
    """The NAP: records (path, time, body) of every push it takes."""
    received: list[tuple[str, float, bytes]] = []

    async def take(request: Request) -> Response:
        received.append((request.url.path, time.monotonic(), await request.body()))
        return Response(status_code=202)

    app = Starlette(routes=[Route("/afir/{offer}", take, methods=["POST"])])
    sock = free_socket()
    config = uvicorn.Config(app, log_level="warning", ssl_certfile=str(pki / "nap.pem"),
                            ssl_keyfile=str(pki / "nap.key"), ssl_ca_certs=str(pki / "ca.pem"),
                            ssl_cert_reqs=ssl.CERT_REQUIRED, lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await wait_for(lambda: server.started)
    server.url = f"https://127.0.0.1:{sock.getsockname()[1]}"
    server.received = received
    yield server
    server.should_exit = True
    await task


async def test_snapshot_then_status_deltas_over_mutual_tls(make_instance, pki, nap):
    cpo = await make_instance("cpo", roles=("CPO",), extra={
        "nap_table_url": f"{nap.url}/afir/table", "nap_status_url": f"{nap.url}/afir/status",
        "nap_client_cert": str(pki / "cpo.pem"), "nap_client_key": str(pki / "cpo.key"),
        "nap_ca": str(pki / "ca.pem"), "nap_delta_seconds": 2.0})
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E3"})

    # at start a full status snapshot (empty: the server started before the locations were
    # imported), then the table and the statuses of the locations as they came (the pusher runs on
    # the node holding the "nap-push" lease)
    def statuses() -> dict[str, str]:
        seen: dict[str, str] = {}
        for path, _, body in nap.received:
            if path == "/afir/status":
                for p in etree.fromstring(body).findall(".//aegi:refillPointStatus", NS):
                    seen[p.find("afac:reference", NS).get("id")] = p.findtext("aegi:status", namespaces=NS)
        return seen

    await wait_for(lambda: len(statuses()) == 8 and any(p == "/afir/table" for p, _, _ in nap.received), timeout=20)
    assert nap.received[0][0] == "/afir/status"  # the snapshot at start
    for _, _, body in nap.received:
        datex2.validate(body)
    table = etree.fromstring(next(b for p, _, b in nap.received if p == "/afir/table"))
    assert len(table.findall(".//aegi:refillPoint", NS)) == 8

    # a status change: a delta with only that charging point, within nap_delta_seconds
    async with charge_point(cpo, "CP-1", cls=COMMANDED["1.6"]) as cp:
        await cp.call(call.BootNotification(charge_point_model="DC-150", charge_point_vendor="Acme"))
        before = len(nap.received)
        changed = time.monotonic()
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        await wait_for(lambda: len(nap.received) > before, timeout=60)
        path, at, delta = nap.received[before]
    assert path == "/afir/status"
    datex2.validate(delta)
    points = etree.fromstring(delta).findall(".//aegi:refillPointStatus", NS)
    assert [(p.find("afac:reference", NS).get("id"), p.findtext("aegi:status", namespaces=NS)) for p in points] == [
        ("EVR-GENT-1-E3", "charging")]
    print(f"status delta at the NAP {at - changed:.2f} s after the change (nap_delta_seconds 2, AFIR: 60 s)")
    assert at - changed < 60

    # the NAP takes nothing from a client without our certificate
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    async with httpx.AsyncClient(verify=context) as http:
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            await http.post(f"{nap.url}/afir/status", content=b"<x/>")
