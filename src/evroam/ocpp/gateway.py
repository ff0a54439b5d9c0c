"""The OCPP WebSocket gateway: `ws(s)://HOST:PORT/ocpp/{charge_point_id}`.

- Subprotocols `ocpp2.1`, `ocpp2.0.1`, `ocpp1.6` are negotiated (the newest both speak); a
  charger offering none of them is refused at the handshake.
- Security profile 1: HTTP Basic with the charger id as user name and its password (stored
  hashed). Profile 2: the same over TLS (`ocpp_tls_cert` + `ocpp_tls_key`). Profile 3: mutual
  TLS (`ocpp_client_ca`): a client certificate signed by that CA is required, and proves the
  charger's identity without a password; its subject CN must be the charge point id of the URL
  (else HTTP 403).
- Unknown charger ids are refused, or (`ocpp_unknown_chargers = "pending"`) let in as Pending.
- One connection per charger (a new one replaces the old at once, also when many connect
  together: the newest is served, the others are closed), a registry of who is connected with
  which OCPP version, and `call()` for services to send a CALL and await its answer.
- A message bigger than `ocpp_max_frame_bytes` closes the connection (1009, message too big);
  what else a connection may hold is bounded in `connection.py`.
- A charger silent for `ocpp_offline_after_missed` heartbeat intervals is disconnected; a
  closed connection makes its EVSEs UNKNOWN.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import http
import logging
import socket
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import ocpp.messages
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from evroam.ocpp.connection import ChargerConnection
from evroam.ocpp.v16.handlers import Charger16
from evroam.ocpp.v201.handlers import Charger21, Charger201

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)

#: subprotocol -> (OCPP version, handler class); the server prefers the newest.
SUBPROTOCOLS: dict[str, tuple[str, type[ChargerConnection]]] = {
    "ocpp2.1": ("2.1", Charger21),
    "ocpp2.0.1": ("2.0.1", Charger201),
    "ocpp1.6": ("1.6", Charger16),
}
PATH_PREFIX = "/ocpp/"
#: how often the last-seen times of heartbeats are written (in one statement for all chargers)
SEEN_FLUSH_SECONDS = 5.0

# The library validates every message against its JSON schema in a worker thread by default: two
# thread hops per message, and the worker fights the event loop (and the database threads) for
# the GIL, which adds milliseconds of waiting to every message under load. The same validation
# done inline costs a fraction of that.
ocpp.messages.ASYNC_VALIDATION = False


class ChargerNotConnected(Exception):
    """A CALL for a charger that has no open connection."""


def charger_id_of(path: str) -> str | None:
    """The charge point id in `/ocpp/{id}` (percent-decoded), or None."""
    path = urlsplit(path).path
    if not path.startswith(PATH_PREFIX):
        return None
    charger_id = unquote(path[len(PATH_PREFIX):])
    return charger_id if charger_id and "/" not in charger_id else None


def common_names(peercert: dict[str, Any]) -> list[str]:
    """The subject CNs of a certificate as `ssl` gives it (`getpeercert()`): OCPP security profile 3
    puts the charge point identity (its serial) there."""
    return [value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "commonName"]


def _basic(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("Authorization")
    if not value:
        return None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (user, password) if sep else None


class Gateway:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.connections: dict[str, ChargerConnection] = {}
        self._server: Server | None = None
        self._watchdog: asyncio.Task | None = None
        self._seen_writer: asyncio.Task | None = None
        self._handlers: set[asyncio.Task] = set()
        # Several nodes: a charger that connected to another node is closed here (one live
        # connection per charger on the whole platform, the newest).
        platform.cluster.on_taken(self._taken_elsewhere)

    # ------------------------------------------------------------------ the registry services use

    def version(self, charger_id: str) -> str | None:
        """The OCPP version a connected charger speaks ("1.6", "2.0.1", "2.1"), None if offline."""
        conn = self.connections.get(charger_id)
        return conn._ocpp_version if conn else None

    def is_connected(self, charger_id: str) -> bool:
        return charger_id in self.connections

    def connected(self) -> dict[str, str]:
        """{charger id: OCPP version} of every open connection."""
        return {cid: c._ocpp_version for cid, c in self.connections.items()}

    async def call(self, charger_id: str, payload: Any, *, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """Send a CALL to a connected charger and await its answer. `payload` is a call object of
        the charger's version (`ocpp.v16.call.*`, `ocpp.v201.call.*` or `ocpp.v21.call.*`; see
        `version()`). Returns the call_result dataclass. Raises ChargerNotConnected, the
        OCPPError of a CALLERROR, or TimeoutError (`ocpp_call_timeout`)."""
        conn = self.connections.get(charger_id)
        if conn is None:
            raise ChargerNotConnected(f"charger {charger_id!r} is not connected")
        expected = {"1.6": "ocpp.v16.", "2.0.1": "ocpp.v201.", "2.1": "ocpp.v21."}[conn._ocpp_version]
        if not type(payload).__module__.startswith(expected):
            raise ValueError(f"charger {charger_id!r} speaks OCPP {conn._ocpp_version}: "
                             f"send an {expected}call object, not {type(payload).__module__}")
        return await conn.request(payload, timeout=timeout)

    async def disconnect(self, charger_id: str) -> bool:
        conn = self.connections.get(charger_id)
        if conn is None:
            return False
        await conn.websocket.close(1000, "closed by the central system")
        return True

    # ------------------------------------------------------------------ serving

    def ssl_context(self) -> ssl.SSLContext | None:
        s = self.platform.settings
        if not s.ocpp_tls_cert:
            if s.ocpp_client_ca:
                raise ValueError("ocpp_client_ca needs ocpp_tls_cert and ocpp_tls_key (mutual TLS)")
            return None
        if not s.ocpp_tls_key:
            raise ValueError("ocpp_tls_cert needs ocpp_tls_key")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(s.ocpp_tls_cert, s.ocpp_tls_key)
        if s.ocpp_client_ca:
            context.load_verify_locations(s.ocpp_client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def start(self, *, sock: socket.socket | None = None) -> None:
        s = self.platform.settings
        kwargs: dict[str, Any] = {"sock": sock} if sock is not None else {"host": s.host, "port": s.ocpp_port}
        self._server = await serve(
            self._handle, subprotocols=list(SUBPROTOCOLS), process_request=self._admit, ssl=self.ssl_context(),
            server_header="evroam", open_timeout=30, max_size=s.ocpp_max_frame_bytes, **kwargs,
        )
        self.platform.ocpp_log.start()
        self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name="ocpp-watchdog")
        self._seen_writer = asyncio.get_running_loop().create_task(self._write_seen(), name="ocpp-last-seen")

    async def stop(self) -> None:
        for task in (self._watchdog, self._seen_writer):
            if task is not None:
                task.cancel()
        self._watchdog = self._seen_writer = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._handlers:
            await asyncio.gather(*list(self._handlers), return_exceptions=True)
        await self.platform.ocpp_log.stop()
        try:
            await self.platform.chargers.flush_seen()
        except Exception:
            log.exception("storing the chargers' last-seen times failed")

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return self._server.sockets[0].getsockname()[1]

    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        charger_id = charger_id_of(request.path)
        if charger_id is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "use ws://HOST:PORT/ocpp/{charge_point_id}\n")
        offered = [p.strip() for h in request.headers.get_all("Sec-WebSocket-Protocol") for p in h.split(",")]
        if not any(p in SUBPROTOCOLS for p in offered):
            return connection.respond(http.HTTPStatus.BAD_REQUEST,
                                      f"subprotocol: offer one of {', '.join(SUBPROTOCOLS)}\n")
        credentials = _basic(request.headers)
        if credentials is not None and credentials[0] != charger_id:
            return self._unauthorized(connection, "the Basic user name must be the charge point id")
        certificate = False
        if self.platform.settings.ocpp_client_ca:
            peer = connection.transport.get_extra_info("peercert")
            if peer:  # verified by the TLS layer against ocpp_client_ca; now: is it this charger's?
                if charger_id not in common_names(peer):
                    log.warning("charger %s refused: client certificate for %s", charger_id,
                                ", ".join(common_names(peer)) or "no CN")
                    return connection.respond(http.HTTPStatus.FORBIDDEN,
                                              "the client certificate's CN is not this charge point id\n")
                certificate = True
        peer = connection.remote_address[0] if connection.remote_address else None
        client = self.platform.throttle.client(peer, request.headers.get("X-Forwarded-For"))
        admission = await self.platform.chargers.admit(charger_id, credentials[1] if credentials else None,
                                                       certificate=certificate, client=client)
        if not admission.allowed:
            if admission.retry_after > 0:  # throttled: counted in /metrics, not logged (a flood would flood the log)
                from evroam.services.throttle import retry_after_header

                response = connection.respond(http.HTTPStatus.TOO_MANY_REQUESTS, f"{admission.reason}\n")
                response.headers["Retry-After"] = retry_after_header(admission.retry_after)
                return response
            log.info("charger %s refused: %s", charger_id, admission.reason)
            if admission.reason == "unknown charge point":
                return connection.respond(http.HTTPStatus.NOT_FOUND, "unknown charge point\n")
            return self._unauthorized(connection, admission.reason)
        return None

    @staticmethod
    def _unauthorized(connection: ServerConnection, reason: str) -> Response:
        response = connection.respond(http.HTTPStatus.UNAUTHORIZED, f"{reason}\n")
        response.headers["WWW-Authenticate"] = 'Basic realm="evroam OCPP", charset="UTF-8"'
        return response

    async def _handle(self, websocket: ServerConnection) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        charger_id = charger_id_of(websocket.request.path)
        version, handler_class = SUBPROTOCOLS[websocket.subprotocol]
        # Looked up and replaced with no await in between: of connections arriving together the
        # last one registered is served and every earlier one is closed.
        previous = self.connections.get(charger_id)
        conn = handler_class(charger_id, websocket, self.platform)
        self.connections[charger_id] = conn
        if previous is not None:
            log.info("charger %s connected again; closing its previous connection", charger_id)
            previous.replace()
        log.info("charger %s connected (OCPP %s)", charger_id, version)
        cluster = self.platform.cluster
        try:
            await cluster.hold(charger_id, version)  # a connection on another node is closed there
            await self.platform.chargers.connected(charger_id, version)
            await conn.run()
        except Exception as exc:
            if not _closed(exc):
                log.exception("charger %s: connection failed", charger_id)
        finally:
            if self.connections.get(charger_id) is conn:
                del self.connections[charger_id]
                try:
                    # offline, unless it has connected to another node meanwhile (it moved)
                    if await cluster.let_go(charger_id):
                        await self.platform.chargers.disconnected(charger_id)
                except Exception:
                    log.exception("charger %s: marking it offline failed", charger_id)
            log.info("charger %s disconnected", charger_id)
            if task is not None:
                self._handlers.discard(task)

    def _taken_elsewhere(self, charger_id: str, node: str) -> None:
        """The charger connected to another node of the platform: its connection here is closed
        (without marking the charger offline: it moved)."""
        conn = self.connections.pop(charger_id, None)
        if conn is not None:
            conn.replaced = True
            conn.close_soon(1000, f"connected to node {node}")
        self.platform.charging.moved_away(charger_id)

    async def _watch(self) -> None:
        """Disconnect chargers that stayed silent too long (missed heartbeats)."""
        s = self.platform.settings
        silent_for = s.ocpp_heartbeat_interval * s.ocpp_offline_after_missed
        period = max(0.2, min(10.0, silent_for / 4))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            for charger_id, conn in list(self.connections.items()):
                if loop.time() - conn.last_seen > silent_for:
                    log.warning("charger %s silent for %.0fs (heartbeats missed): offline", charger_id, silent_for)
                    conn.close_soon(1001, "heartbeats missed")


    async def _write_seen(self) -> None:
        while True:
            await asyncio.sleep(SEEN_FLUSH_SECONDS)
            try:
                await self.platform.chargers.flush_seen()
            except Exception:
                log.exception("storing the chargers' last-seen times failed; will retry")


def _closed(exc: BaseException) -> bool:
    from websockets.exceptions import ConnectionClosed

    return isinstance(exc, ConnectionClosed)
