"""Security profiles 2 (TLS + Basic auth) and 3 (mutual TLS) with certificates made by openssl."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest
from charge_points import PASSWORD, basic
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from evroam.demo import load_demo

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path):
    """A CA, a server certificate for 127.0.0.1 and client certificates for CP-1 and CP-2, all
    signed by it."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=evroam test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=tmp_path)
    for name, subject, ext in [("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
                               ("client", "/CN=CP-1", "extendedKeyUsage=clientAuth"),
                               ("client2", "/O=Acme/CN=CP-2", "extendedKeyUsage=clientAuth")]:
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", cwd=tmp_path)
        (tmp_path / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=tmp_path)
    return tmp_path


async def _cpo(make_instance, pki, *, mutual: bool):
    extra = {"ocpp_tls_cert": str(pki / "server.pem"), "ocpp_tls_key": str(pki / "server.key")}
    if mutual:
        extra["ocpp_client_ca"] = str(pki / "ca.pem")
    cpo = await make_instance("cpo", country_code="NL", party_id="CPO", roles=("CPO",), extra=extra)
    assert await load_demo(cpo.platform)
    await cpo.platform.chargers.add("CP-1", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E3"})
    return cpo


def _client_context(pki, *, certificate: bool | str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if certificate:
        name = certificate if isinstance(certificate, str) else "client"
        context.load_cert_chain(str(pki / f"{name}.pem"), str(pki / f"{name}.key"))
    return context


async def test_profile_2_tls_with_basic_auth(make_instance, pki):
    cpo = await _cpo(make_instance, pki, mutual=False)
    url = f"wss://127.0.0.1:{cpo.ocpp_port}/ocpp/CP-1"
    context = _client_context(pki, certificate=False)
    async with connect(url, subprotocols=["ocpp1.6"], ssl=context, additional_headers=basic("CP-1", PASSWORD)) as ws:
        await ws.send('[2, "1", "Heartbeat", {}]')
        assert (await ws.recv()).startswith('[3,"1"')
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, subprotocols=["ocpp1.6"], ssl=context, additional_headers=basic("CP-1", "wrong-one"))
    assert refused.value.response.status_code == 401


async def test_profile_3_mutual_tls(make_instance, pki):
    cpo = await _cpo(make_instance, pki, mutual=True)
    url = f"wss://127.0.0.1:{cpo.ocpp_port}/ocpp/CP-1"
    # a client certificate signed by our CA: no password needed
    async with connect(url, subprotocols=["ocpp1.6"], ssl=_client_context(pki, certificate=True)) as ws:
        await ws.send('[2, "1", "Heartbeat", {}]')
        assert (await ws.recv()).startswith('[3,"1"')
    # without a client certificate the TLS handshake fails
    with pytest.raises((ssl.SSLError, OSError, InvalidHandshake)):  # TLS 1.3: refused after the handshake
        async with connect(url, subprotocols=["ocpp1.6"], ssl=_client_context(pki, certificate=False),
                           additional_headers=basic("CP-1", PASSWORD)) as ws:
            await ws.recv()


async def test_profile_3_certificate_cn_must_be_the_charge_point_id(make_instance, pki):
    cpo = await _cpo(make_instance, pki, mutual=True)
    await cpo.platform.chargers.add("CP-2", password=PASSWORD, location_id="EVR-GENT-1", evses={1: "EVR-GENT-1-E1"})
    base = f"wss://127.0.0.1:{cpo.ocpp_port}/ocpp/"
    # CP-2's certificate (signed by our CA) does not open CP-1's URL, not even with CP-1's password
    for headers in ({}, basic("CP-1", PASSWORD)):
        with pytest.raises(InvalidStatus) as refused:
            await connect(base + "CP-1", subprotocols=["ocpp1.6"], ssl=_client_context(pki, certificate="client2"),
                          additional_headers=headers)
        assert refused.value.response.status_code == 403
        assert b"CN is not this charge point id" in refused.value.response.body
    assert not cpo.platform.gateway.is_connected("CP-1")
    # it opens its own
    async with connect(base + "CP-2", subprotocols=["ocpp1.6"], ssl=_client_context(pki, certificate="client2")) as ws:
        await ws.send('[2, "1", "Heartbeat", {}]')
        assert (await ws.recv()).startswith('[3,"1"')
        assert cpo.platform.gateway.is_connected("CP-2")
    log = await cpo.platform.ocpp_log.query(charger_id="CP-1")
    assert log == []  # nothing was let in for CP-1
