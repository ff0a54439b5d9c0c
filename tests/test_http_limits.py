"""Limits of the HTTP port over real sockets: request bodies over the limit answered 413 in each
API's own form (OCPI envelope 2001, driver API, admin API) before the rest is read and with
nothing stored, with Content-Length or chunked; requests sent too slowly (line and headers, or
body) answered 408 and closed while other clients are served."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from harness import auth, httpx

TOKEN = "cpo-token"
LIMIT = 64 * 1024


def location(lid: str = "LOC1", evses: int = 1, padding: str = "") -> dict:
    evse = {"uid": "E1", "status": "AVAILABLE", "last_updated": "2024-03-01T10:00:00Z",
            "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                            "max_voltage": 400, "max_amperage": 32, "last_updated": "2024-03-01T10:00:00Z"}]}
    return {
        "country_code": "DE", "party_id": "ABC", "id": lid, "publish": True, "address": "Street 1" + padding,
        "city": "Berlin", "country": "DEU", "coordinates": {"latitude": "52.52000", "longitude": "13.40500"},
        "time_zone": "Europe/Berlin", "last_updated": "2024-03-01T10:00:00Z",
        "evses": [{**evse, "uid": f"E{n}"} for n in range(evses)],
    }


def url(lid: str) -> str:
    return f"/ocpi/2.2.1/emsp/locations/DE/ABC/{lid}"


async def stored(instance, lid: str):
    async with instance.platform.store.connect() as conn:
        return await instance.platform.store.locations.get(conn, "DE", "ABC", lid)


@pytest.fixture
async def emsp(make_instance):
    inst = await make_instance(extra={"http_max_body_bytes": LIMIT, "admin_max_body_bytes": 4 * LIMIT})
    await inst.add_partner("abc", TOKEN, [("CPO", "DE", "ABC")])
    return inst


async def _exchange(port: int, head: bytes, chunks: list[bytes] = (), *, finish: bool = True) -> tuple[int, dict, bytes]:
    """Send a request by hand (a head, then body chunks) and read the answer to the end of the
    connection: (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        if finish and b"chunked" in head:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)  # the server closes the connection after a 413
    finally:
        writer.close()
    head_raw, _, body = raw.partition(b"\r\n\r\n")
    lines = head_raw.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# ---------------------------------------------------------------------- body size


async def test_an_ocpi_put_of_ten_megabytes_gets_a_413_envelope_and_nothing_is_stored(emsp):
    body = orjson.dumps(location(padding="x" * 10_000_000))
    head = (f"PUT {url('LOC1')} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth(TOKEN)['Authorization']}\r\nX-Request-ID: big-1\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    # only the head and the first 64 KiB are sent: the answer does not wait for the rest
    status, headers, answer = await _exchange(emsp.port, head, [body[:LIMIT]])
    envelope = orjson.loads(answer)
    assert status == 413 and envelope["status_code"] == 2001
    assert str(LIMIT) in envelope["status_message"] and "timestamp" in envelope
    assert headers["connection"] == "close" and headers["x-request-id"] == "big-1"
    assert await stored(emsp, "LOC1") is None
    # with a client that sends it all
    async with httpx.AsyncClient(base_url=emsp.url) as http:
        try:
            r = await http.put(url("LOC2"), content=body, headers={**auth(TOKEN), "Content-Type": "application/json"})
            assert r.status_code == 413 and r.json()["status_code"] == 2001
        except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError):
            pass  # the server closed while the client was still sending: also no
        assert await stored(emsp, "LOC2") is None
        # a body within the limit goes through as before
        r = await http.put(url("LOC3"), json=location("LOC3"), headers=auth(TOKEN))
        assert r.status_code in (200, 201) and r.json()["status_code"] == 1000
    assert await stored(emsp, "LOC3") is not None


async def test_a_chunked_body_over_the_limit_is_refused_without_waiting_for_its_end(emsp):
    head = (f"PUT {url('LOC1')} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth(TOKEN)['Authorization']}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    body = orjson.dumps(location(padding="x" * 200_000))
    chunks = [_chunk(body[i:i + 8192]) for i in range(0, 2 * LIMIT, 8192)]
    status, headers, answer = await _exchange(emsp.port, head, chunks, finish=False)  # never ends
    assert status == 413 and orjson.loads(answer)["status_code"] == 2001
    assert await stored(emsp, "LOC1") is None
    # chunked within the limit is read as usual
    body = orjson.dumps(location("LOC2"))
    status, _, answer = await _exchange(
        emsp.port, head.replace(b"LOC1", b"LOC2").replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"),
        [_chunk(body[:100]), _chunk(body[100:])])
    assert status in (200, 201) and orjson.loads(answer)["status_code"] == 1000
    assert await stored(emsp, "LOC2") is not None


async def test_admin_and_driver_apis_answer_413_in_their_own_form(emsp):
    async with httpx.AsyncClient(base_url=emsp.url) as http:
        admin = {"Authorization": "Bearer admin-secret"}
        # the admin API takes bigger bodies (whole location lists) ...
        r = await http.post("/admin/api/locations", headers=admin,
                            json=[location(f"L{n}", padding="x" * 1000) for n in range(100)])
        assert r.status_code != 413
        # ... up to its own limit
        r = await http.post("/admin/api/locations", headers=admin, content=b"[" + b" " * (4 * LIMIT) + b"]",
                            )
        assert r.status_code == 413 and set(r.json()) == {"detail"}
        r = await http.post("/driver/v1/sessions/start", headers={"Authorization": "Bearer nobody"},
                            content=b"{" + b" " * LIMIT + b"}")
        assert r.status_code == 413 and r.json()["error"] and r.json()["detail"]


# ---------------------------------------------------------------------- slow requests


@pytest.fixture
async def impatient(make_instance):
    return await make_instance(extra={"http_header_timeout": 0.5, "http_body_timeout": 0.5})


async def _closed_after(reader, within: float) -> tuple[float, bytes]:
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), within)
    return time.monotonic() - started, data


async def test_a_half_sent_request_is_closed_after_the_timeout_while_others_are_served(impatient):
    port = impatient.port
    silent = await asyncio.open_connection("127.0.0.1", port)  # sends nothing at all
    half_line = await asyncio.open_connection("127.0.0.1", port)
    half_line[1].write(b"GET /hea")
    half_head = await asyncio.open_connection("127.0.0.1", port)
    half_head[1].write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    half_body = await asyncio.open_connection("127.0.0.1", port)
    half_body[1].write(f"PUT {url('LOC1')} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{{\"id\":".encode())
    async with httpx.AsyncClient(base_url=impatient.url) as http:
        for _ in range(3):  # other clients are served meanwhile
            assert (await http.get("/health")).status_code == 200
    for (reader, writer), answer in ((silent, b""), (half_line, b"HTTP/1.1 408 "), (half_head, b"HTTP/1.1 408 "),
                                     (half_body, b"HTTP/1.1 408 ")):
        elapsed, data = await _closed_after(reader, 5)
        assert elapsed < 2 and data.startswith(answer) and (answer or data == b"")
        writer.close()
    async with httpx.AsyncClient(base_url=impatient.url) as http:
        assert (await http.get("/health")).status_code == 200
    # a request that trickles in byte by byte, too slowly, is cut off as well
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    with pytest.raises((ConnectionError, AssertionError)):
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)
            assert not reader.at_eof()
    assert time.monotonic() - started < 2
    writer.close()


async def test_requests_sent_in_time_on_one_connection_are_all_served(impatient):
    reader, writer = await asyncio.open_connection("127.0.0.1", impatient.port)
    try:
        for _ in range(3):  # keep-alive: a pause between requests is not a slow request
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), 5)
            assert status.startswith(b"HTTP/1.1 200")
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            await asyncio.sleep(0.7)  # longer than the request deadlines, shorter than keep-alive
    finally:
        writer.close()


async def test_an_endless_header_is_refused_431_and_the_connection_closed(make_instance):
    inst = await make_instance(extra={"http_max_header_bytes": 16384})
    reader, writer = await asyncio.open_connection("127.0.0.1", inst.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Endless: ")
    for _ in range(16):  # 1 MB of one header, and still no end
        writer.write(b"a" * 65536)
        await writer.drain()
    assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 431 ")  # then closed
    writer.close()
    # one that never ends is cut off too (the answer may be lost in the reset)
    reader, writer = await asyncio.open_connection("127.0.0.1", inst.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Endless: ")
    with pytest.raises(ConnectionError):
        for _ in range(1000):  # 64 MB
            writer.write(b"a" * 65536)
            await writer.drain()
    writer.close()
    # headers of ordinary size are fine
    async with httpx.AsyncClient(base_url=inst.url) as http:
        assert (await http.get("/health", headers={"X-Fine": "a" * 8000})).status_code == 200
