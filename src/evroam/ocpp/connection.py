"""What every charger connection shares, whatever its OCPP version: the frame loop on top of the
`ocpp` library's ChargePoint (every frame logged; answers to our CALLs routed at once; the
charger's CALLs handled one after the other, in order), a CALLERROR for every malformed frame
with the error code of the charger's OCPP version, and the same answer again for a CALL resent
with the same message id."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson
from ocpp.exceptions import FormatViolationError, InternalError, NotSupportedError, OCPPError, ProtocolError
from ocpp.exceptions import NotImplementedError as NotHandledError  # (not the builtin)
from ocpp.messages import Call, CallError, MessageType, unpack

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)

# OCPP-J 1.6 spells two error codes differently from the later versions (and from the library).
_CODES_16 = {"FormatViolation": "FormationViolation", "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
             "MessageTypeNotSupported": "NotSupported", "RpcFrameworkError": "ProtocolError"}
_REMEMBERED = 64


class _AnsweredErrors(logging.Filter):
    """The library logs whatever a handler raises with its traceback (and the whole CALL). An
    OCPPError is a CALLERROR we chose to answer (e.g. a charger's unreadable value): one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, OCPPError):
            record.msg, record.args = "CALL answered with %s: %s", (error.code, (error.details or {}).get("cause"))
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_library_log = logging.getLogger("ocpp.evroam")
_library_log.addFilter(_AnsweredErrors())


class MessageTypeNotSupportedError(OCPPError):
    code = "MessageTypeNotSupported"
    default_description = "A message with a message type number that is not supported"


class ChargerConnection:
    """Mixin placed before a version's `ocpp.vXX.ChargePoint`; `self.id` is the charger id."""

    _ocpp_version: str
    _actions: frozenset[str] = frozenset()  # every action the version defines
    #: action -> name of a method `(payload) -> answer payload | None` that handles the busiest
    #: CALLs without the library's generic path (JSON schema validation, snake_case conversion,
    #: signature inspection per call). It checks the payload itself, accepting only payloads the
    #: schema accepts, and returns None for anything else: the library path then handles the CALL
    #: (and answers an invalid one with the right CALLERROR).
    _fast: dict[str, str] = {}

    def __init__(self, charger_id: str, websocket: Any, platform: Platform) -> None:
        super().__init__(charger_id, websocket, response_timeout=platform.settings.ocpp_call_timeout,
                         logger=_library_log)
        self.platform = platform
        self.websocket = websocket
        self.last_seen = asyncio.get_running_loop().time()
        self._calls: asyncio.Queue[Call] = asyncio.Queue()
        self._answers: OrderedDict[str, tuple[str, str]] = OrderedDict()  # message id -> (action, answer)
        self._current: Call | None = None

    # ------------------------------------------------------------------ frames in

    async def run(self) -> None:
        """Read frames until the connection closes."""
        worker = asyncio.get_running_loop().create_task(self._work(), name=f"ocpp-{self.id}")
        try:
            async for frame in self.websocket:
                if isinstance(frame, bytes):
                    frame = frame.decode("utf-8", errors="replace")
                self.last_seen = asyncio.get_running_loop().time()
                await self._receive(frame)
        finally:
            worker.cancel()

    async def _receive(self, frame: str) -> None:
        # The common case, a well-formed CALL, is read once with orjson; anything else goes
        # through the library's parser, which names what is wrong with it.
        try:
            parsed = orjson.loads(frame)
        except orjson.JSONDecodeError:
            parsed = None
        if (type(parsed) is list and len(parsed) == 4 and parsed[0] == 2 and type(parsed[1]) is str
                and type(parsed[2]) is str):
            self.platform.ocpp_log.record(self.id, "in", frame, kind=(2, parsed[1], parsed[2]))
            self._calls.put_nowait(Call(parsed[1], parsed[2], parsed[3]))
            return
        self.platform.ocpp_log.record(self.id, "in", frame)
        try:
            msg = unpack(frame)
        except OCPPError as error:
            if "MessageTypeId" in str(error.details) and "isn't valid" in str(error.details):
                error = MessageTypeNotSupportedError(details=error.details)
            await self._send_error(_message_id(frame), error)
            return
        if msg.message_type_id == MessageType.Call:
            if not isinstance(msg.unique_id, str) or not isinstance(msg.action, str):
                await self._send_error(_message_id(frame), FormatViolationError(
                    details={"cause": "MessageId and Action must be strings"}))
                return
            self._calls.put_nowait(msg)
        else:
            self._response_queue.put_nowait(msg)

    async def _work(self) -> None:
        while True:
            msg = await self._calls.get()
            try:
                await self._dispatch(msg)
            except Exception:
                log.exception("charger %s: handling %s failed", self.id, msg.action)

    async def _dispatch(self, msg: Call) -> None:
        seen = self._answers.get(msg.unique_id)
        if seen is not None and seen[0] == msg.action:
            await self._send(seen[1])  # the same CALL again: the same answer, handled once
            return
        if not isinstance(msg.payload, dict):
            await self._send_error(msg.unique_id, FormatViolationError(details={"cause": "payload must be an object"}))
            return
        if msg.action not in self.route_map:
            error_class = NotHandledError if msg.action in self._actions else NotSupportedError
            await self._send_error(msg.unique_id, error_class(
                details={"cause": f"{msg.action} is not handled by this central system"}))
            return
        self._current = msg
        try:
            fast = self._fast.get(msg.action)
            if fast is not None:
                answer = await getattr(self, fast)(msg.payload)
                if answer is not None:
                    await self._send(orjson.dumps([3, msg.unique_id, answer]).decode(), kind=3)
                    return
            await self._handle_call(msg)
        except OCPPError as error:
            await self._send(msg.create_call_error(error).to_json())
        except TypeError as exc:  # a field the handler does not take
            await self._send(msg.create_call_error(ProtocolError(details={"cause": str(exc)})).to_json())
        except Exception:  # (a fast path's failure: answered, as the library answers its own)
            log.exception("charger %s: handling %s failed", self.id, msg.action)
            await self._send(msg.create_call_error(InternalError()).to_json())
        finally:
            self._current = None

    # ------------------------------------------------------------------ frames out

    async def _send_error(self, unique_id: str, error: OCPPError) -> None:
        await self._send(CallError(unique_id, error.code, error.description, error.details or {}).to_json())

    async def _send(self, message: str, kind: int | None = None) -> None:
        """Send a frame (`kind` 3: a CALLRESULT we built for the current CALL)."""
        if kind is None and message.startswith("[4"):
            message = self._versioned_error(message)
        current = self._current
        if current is not None and (kind == 3 or message.startswith("[3") or message.startswith("[4")):
            self._answers[current.unique_id] = (current.action, message)
            if len(self._answers) > _REMEMBERED:
                self._answers.popitem(last=False)
        if kind == 3 and current is not None:
            self.platform.ocpp_log.record(self.id, "out", message, kind=(3, current.unique_id, current.action))
        else:
            self.platform.ocpp_log.record(self.id, "out", message)
        await self.websocket.send(message)

    def _versioned_error(self, message: str) -> str:
        try:
            frame = orjson.loads(message)
        except orjson.JSONDecodeError:
            return message
        code = frame[2]
        if self._ocpp_version == "1.6":
            code = _CODES_16.get(code, code)
        frame[2] = code
        frame[4] = _plain(frame[4])
        return orjson.dumps(frame).decode()

    # ------------------------------------------------------------------ our CALLs to the charger

    async def request(self, payload: Any, *, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """Send a CALL of this charger's version and return its CALLRESULT (as the library's
        call_result dataclass). A CALLERROR raises the matching OCPPError; no answer in time
        raises TimeoutError."""
        if timeout is not None:
            saved, self._response_timeout = self._response_timeout, timeout
            try:
                return await self.call(payload, suppress=False)
            finally:
                self._response_timeout = saved
        return await self.call(payload, suppress=False)


def _message_id(frame: str) -> str:
    """The message id of a frame that could not be handled, or "-1" when it cannot be read."""
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return "-1"
    if isinstance(msg, list) and len(msg) > 1 and isinstance(msg[1], str):
        return msg[1]
    return "-1"


def _plain(details: Any) -> dict:
    """Error details as plain JSON (the library may put message objects in them)."""
    if not isinstance(details, dict):
        return {}
    return {str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v) for k, v in details.items()}
