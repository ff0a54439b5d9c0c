"""What every charger connection shares, whatever its OCPP version: the frame loop on top of the
`ocpp` library's ChargePoint (every frame logged; answers to our CALLs routed at once; the
charger's CALLs handled one after the other, in order), a CALLERROR for every malformed frame
with the error code of the charger's OCPP version, and the same answer again for a CALL resent
with the same message id.

What a connection may hold is bounded: at most `ocpp_max_pending_calls` of the charger's CALLs
wait (beyond that its frames are not read until one is answered), an answer is taken only for a
CALL of ours that is waiting for it (once; answers to nothing we asked are logged and dropped),
and a frame nested deeper than `ocpp_max_json_depth` or with a message id longer than
`MAX_MESSAGE_ID` is answered with a format CALLERROR before any further parsing or validation."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson
from ocpp.exceptions import FormatViolationError, InternalError, NotSupportedError, OCPPError, ProtocolError
from ocpp.exceptions import NotImplementedError as NotHandledError  # (not the builtin)
from ocpp.messages import Call, CallError, CallResult, MessageType, unpack

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)

# OCPP-J 1.6 spells two error codes differently from the later versions (and from the library).
_CODES_16 = {"FormatViolation": "FormationViolation", "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
             "MessageTypeNotSupported": "NotSupported", "RpcFrameworkError": "ProtocolError"}
_REMEMBERED = 64
#: longest message id taken (OCPP-J: at most 36 characters; a little more is tolerated)
MAX_MESSAGE_ID = 64
_UNREAD = object()


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
        self._calls: asyncio.Queue[Call] = asyncio.Queue(maxsize=platform.settings.ocpp_max_pending_calls)
        self._answers: OrderedDict[str, tuple[str, str]] = OrderedDict()  # message id -> (action, answer)
        self._current: Call | None = None
        self._max_depth = platform.settings.ocpp_max_json_depth
        self._awaited: set[str] = set()  # message ids of our CALLs waiting for their answer
        self._dropped = 0  # answers to nothing we asked
        self._closing: asyncio.Task | None = None
        self.replaced = False

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
        if self.replaced:  # a newer connection of this charger took over; this one is closing
            return
        # The common case, a well-formed CALL, is read once with orjson; anything else goes
        # through the library's parser, which names what is wrong with it.
        try:
            parsed = orjson.loads(frame)  # (orjson itself refuses nesting deeper than 1024)
        except orjson.JSONDecodeError:
            parsed = _UNREAD
        if parsed is not _UNREAD and _deeper_than(frame, parsed, self._max_depth):
            self.platform.ocpp_log.record(self.id, "in", frame)
            await self._refuse_too_deep(frame)
            return
        if (type(parsed) is list and len(parsed) == 4 and parsed[0] == 2 and type(parsed[1]) is str
                and type(parsed[2]) is str and len(parsed[1]) <= MAX_MESSAGE_ID):
            self.platform.ocpp_log.record(self.id, "in", frame, kind=(2, parsed[1], parsed[2]))
            await self._calls.put(Call(parsed[1], parsed[2], parsed[3]))  # waits while too many are pending
            return
        if (type(parsed) is list and len(parsed) > 1 and parsed[0] in (3, 4) and type(parsed[1]) is str
                and parsed[1] not in self._awaited):  # an answer to nothing we wait for: not parsed further
            self.platform.ocpp_log.record(self.id, "in", frame, kind=(parsed[0], parsed[1], None))
            self._drop()
            return
        self.platform.ocpp_log.record(self.id, "in", frame)
        try:
            msg = unpack(frame)
        except OCPPError as error:
            if "MessageTypeId" in str(error.details) and "isn't valid" in str(error.details):
                error = MessageTypeNotSupportedError(details=error.details)
            await self._send_error(_message_id(frame), error)
            return
        except RecursionError:  # nested too deep for the library's JSON parser
            await self._refuse_too_deep(frame)
            return
        if parsed is _UNREAD and _deeper_than(frame, _content(msg), self._max_depth - 1):
            await self._refuse_too_deep(frame)
            return
        if msg.message_type_id == MessageType.Call:
            if not isinstance(msg.unique_id, str) or not isinstance(msg.action, str):
                await self._send_error(_message_id(frame), FormatViolationError(
                    details={"cause": "MessageId and Action must be strings"}))
                return
            if len(msg.unique_id) > MAX_MESSAGE_ID:
                await self._send_error(msg.unique_id, FormatViolationError(
                    details={"cause": f"MessageId is longer than {MAX_MESSAGE_ID} characters"}))
                return
            await self._calls.put(msg)
        else:
            self._take_answer(msg)

    def _take_answer(self, msg: CallResult | CallError) -> None:
        """An answer from the charger: handed to our CALL waiting for it (the first answer only),
        else dropped (it is in the OCPP log)."""
        if isinstance(msg.unique_id, str) and msg.unique_id in self._awaited:
            self._awaited.discard(msg.unique_id)
            self._response_queue.put_nowait(msg)
            return
        self._drop()

    def _drop(self) -> None:
        self._dropped += 1
        if self._dropped & (self._dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th ...: a trace, not a flood
            log.warning("charger %s: dropped an answer to a CALL we are not waiting for (%d so far)",
                        self.id, self._dropped)

    async def _refuse_too_deep(self, frame: str) -> None:
        """A frame nested deeper than allowed: a CALL (or what cannot be told apart) gets a format
        CALLERROR; an answer is dropped like any answer we cannot take."""
        message_type, message_id = _head(frame)
        if message_type in (MessageType.CallResult, MessageType.CallError):
            self._drop()
            return
        await self._send_error(message_id, FormatViolationError(
            details={"cause": f"JSON nested deeper than {self._max_depth} levels"}))

    async def _work(self) -> None:
        while not self.replaced:
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
        started = time.perf_counter()
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
            self.platform.metrics.ocpp_call(msg.action, time.perf_counter() - started)

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

    async def call(self, payload: Any, suppress: bool = True, unique_id: str | None = None,
                   skip_schema_validation: bool = False) -> Any:
        """The library's `call`, with the message id registered while we wait for its answer:
        only an answer to it is taken (see `_take_answer`)."""
        unique_id = unique_id if unique_id is not None else str(self._unique_id_generator())
        self._awaited.add(unique_id)
        try:
            return await super().call(payload, suppress, unique_id, skip_schema_validation)
        finally:
            self._awaited.discard(unique_id)

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


    # ------------------------------------------------------------------ closing

    def close_soon(self, code: int, reason: str) -> None:
        """Start the closing handshake without waiting for the charger to finish it."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self.websocket.close(code, reason),
                                                                   name=f"ocpp-close-{self.id}")

    def replace(self) -> None:
        """A newer connection of the same charger took this one's place: stop handling its
        frames and close it."""
        self.replaced = True
        self.close_soon(1000, "replaced by a new connection")


_HEAD = re.compile(r'\s*\[\s*(\d{1,3})\s*,\s*"([^"\\]{1,' + str(MAX_MESSAGE_ID) + r'})"')


def _head(frame: str) -> tuple[int | None, str]:
    """(message type, message id) as the start of a frame shows them, even when the whole
    cannot be parsed (e.g. nested too deep); (None, "-1") when they do not show."""
    head = _HEAD.match(frame[:200])
    return (int(head.group(1)), head.group(2)) if head else (None, "-1")


def _message_id(frame: str) -> str:
    """The message id of a frame that could not be handled, or "-1" when it cannot be read."""
    try:
        msg = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return _head(frame)[1]
    if isinstance(msg, list) and len(msg) > 1 and isinstance(msg[1], str):
        return msg[1]
    return "-1"


def _content(msg: Call | CallResult | CallError) -> Any:
    """The nested part of a message: the payload, or a CALLERROR's details."""
    return msg.error_details if isinstance(msg, CallError) else msg.payload


def _deeper_than(frame: str, value: Any, limit: int) -> bool:
    """Whether `value` (read from `frame`) nests arrays and objects more than `limit` levels deep
    (`[]` is one level). Walked without recursion; most frames have too few brackets to need it."""
    if frame.count("[") + frame.count("{") <= limit:
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _plain(details: Any) -> dict:
    """Error details as plain JSON (the library may put message objects in them)."""
    if not isinstance(details, dict):
        return {}
    return {str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v) for k, v in details.items()}
