"""hypothesis strategies of the OCPP frames a charger (1.6 or 2.0.1) may send: CALLs of the
right shape with hostile values (huge, negative and NaN-like numbers as strings, absurd dates,
long strings, unknown enums, unicode), and malformed frames (wrong arity, wrong types, not
JSON, nesting, huge ids, unsolicited answers).

A program is a list of `Frame`s. Transaction ids a CALL refers to may be `TxRef`s: the runner
puts in the id of a transaction started earlier in the run (or a made-up one when none was).

Findings still open are kept out of what is generated (their triggers would fail the run for a
known reason, and some take the whole answer bound each): see `OPEN_FINDINGS`. Removing an
entry puts its triggers back into the frames."""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

# Known findings being fixed. While a key is here, its triggers are not generated.
OPEN_FINDINGS: dict[str, str] = {}


def gated(finding: str, enabled: frozenset[str], normal: st.SearchStrategy[Any],
          triggers: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`normal` values, and the `triggers` of a finding: never while it is open, mostly when
    they are asked for (`enabled`), at times once it is closed."""
    if finding in enabled:
        return st.one_of(triggers, triggers, triggers, normal)
    if finding in OPEN_FINDINGS:
        return normal
    return st.one_of(normal, normal, normal, triggers)


@dataclass(frozen=True)
class TxRef:
    """The id of the n-th newest transaction started in this run (modulo how many were started)."""

    n: int


@dataclass(frozen=True)
class FreshTx:
    """A transaction id never used before in this run (2.0.1: the charger names its transactions)."""


@dataclass
class Frame:
    """One frame to send. `action`/`payload`: a CALL (its id made by the runner unless
    `message_id` is given); `raw`: text sent as it is (a malformed frame)."""

    action: str | None = None
    payload: Any = None
    raw: str | None = None
    message_id: str | None = None
    expects_answer: bool = True  # False: an unsolicited CALLRESULT / CALLERROR, which is not answered
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- hostile values

LONG = st.integers(min_value=256, max_value=20_000).map(lambda n: "X" * n)
UNICODE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
ODD_TEXT = st.sampled_from(["", " ", "\u0000", "\t\n", "null", "[]", "{}", "💥🔌⚡", "مرحبا", "\u202eRTL",
                            "Robert'); DROP TABLE chargers;--", "%s%s%n", "../../etc/passwd", "\\u0000"])
NUMBER_STRINGS = st.sampled_from(["-1", "-0", "0", "0.0000001", "99999999999999999999", "1e3", "-1e3", "0x10",
                                  " 5 ", "5,5", "+7", "1.5.5"])
# read as numbers by a lax parser: only generated when the readings finding is closed
NON_FINITE_STRINGS = st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "1e308", "-1e308", "1e400",
                                      "1_000", "١٢٣", "１２３", "3.4028235e38"])
HOSTILE_STRINGS = st.one_of(LONG, UNICODE, ODD_TEXT, NUMBER_STRINGS)
HOSTILE_INTEGERS = st.one_of(
    st.sampled_from([0, -1, -2**31, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -2**63 - 1, 10**30]),
    st.integers())
HOSTILE_NUMBERS = st.one_of(HOSTILE_INTEGERS, st.floats(allow_nan=False, allow_infinity=False),
                            st.sampled_from([1e308, -1e308, 5e-324, -0.0, 0.1]))


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def recent() -> st.SearchStrategy[str]:
    """A plausible timestamp: within the last day (in UTC, or with an offset)."""
    def written(seconds: int, zone: int) -> str:
        at = datetime.now(UTC) - timedelta(seconds=seconds)
        if zone == 0:
            return iso(at)
        local = at + timedelta(hours=zone)
        return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{'+' if zone > 0 else '-'}{abs(zone):02d}:00"

    return st.builds(written, st.integers(min_value=0, max_value=86_400), st.sampled_from([0, 0, 0, 14, -12, 2]))


ABSURD_DATES = st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z",
                                "2026-01-15T12:00:00+14:00", "2026-01-15T12:00:00-12:00", "2100-02-28T00:00:00Z"])
UNREADABLE_DATES = st.one_of(
    st.sampled_from(["", "now", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-15T25:61:61Z",
                     "2026-01-15", "20260115T120000Z", "2026-01-15T12:00:00", "1e9", "-1", "０００１-01-01T00:00:00Z"]),
    HOSTILE_STRINGS)


@dataclass(frozen=True)
class Gen:
    """Builds the strategies of one kind of frame: `hostile` ones get a hostile value in any
    field at times (three values in four stay valid, so that frames with many fields still
    reach the handlers), the others only valid values; both carry the triggers of the findings
    in `enabled` (see `gated`)."""

    enabled: frozenset[str] = frozenset()
    hostile: bool = True

    # ------------------------------------------------------------------ fields

    def mostly(self, valid: st.SearchStrategy[Any], *hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        if not self.hostile:
            return valid
        return st.one_of(valid, valid, valid, hostile[0] if len(hostile) == 1 else st.one_of(*hostile))

    def text(self, valid: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
        """A string field: a valid value, a hostile string, or another JSON type."""
        return self.mostly(valid, HOSTILE_STRINGS, HOSTILE_NUMBERS, st.none(), st.booleans())

    def enum(self, values: list[str]) -> st.SearchStrategy[Any]:
        return self.mostly(st.sampled_from(values), st.sampled_from([v.lower() for v in values] + ["Unknown", ""]),
                           HOSTILE_STRINGS, HOSTILE_NUMBERS)

    def integer(self, valid: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
        return self.mostly(valid, HOSTILE_INTEGERS, HOSTILE_STRINGS, st.floats(allow_nan=False), st.none())

    def any_string(self) -> st.SearchStrategy[str]:
        return HOSTILE_STRINGS if self.hostile else st.text(string.ascii_letters, min_size=1, max_size=20)

    def obj(self, payload: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
            ) -> st.SearchStrategy[dict[str, Any]]:
        """An object with the required fields, some optional ones, and at times an unknown field."""
        extra = {"unknownField": HOSTILE_STRINGS} if self.hostile else {}
        return st.fixed_dictionaries(payload, optional={**optional, **extra})

    def gated(self, finding: str, normal: st.SearchStrategy[Any], triggers: st.SearchStrategy[Any]):
        return gated(finding, self.enabled, normal, triggers)

    def timestamp(self) -> st.SearchStrategy[str]:
        return self.gated("timestamps", self.gated("absurd-dates", recent(), ABSURD_DATES), UNREADABLE_DATES)

    def connector(self, *, starts: bool) -> st.SearchStrategy[Any]:
        """A connector / EVSE number: the mapped ones (1, 2) where a transaction starts (others
        are the unmapped-connectors finding's triggers), and others too elsewhere."""
        if not starts:
            return self.integer(st.sampled_from([0, 1, 2, 3]))
        return self.gated("unmapped-connectors", st.sampled_from([1, 2]),
                          st.one_of(st.sampled_from([0, 3, -1, 2**31 - 1]), st.integers(min_value=3)))

    def tx_16(self) -> st.SearchStrategy[Any]:
        return self.mostly(transaction_ref(), HOSTILE_INTEGERS, HOSTILE_STRINGS)

    # ------------------------------------------------------------------ OCPP 1.6

    def reading_16(self) -> st.SearchStrategy[str]:
        plain = st.integers(min_value=0, max_value=200_000).map(str)
        plain = self.mostly(plain, st.sampled_from(["-1", "0.5", "abc", ""]), HOSTILE_STRINGS)
        return self.gated("readings", plain, st.one_of(NON_FINITE_STRINGS, NON_FINITE_STRINGS, NUMBER_STRINGS))

    def meter_value_16(self) -> st.SearchStrategy[dict[str, Any]]:
        sampled = self.obj({"value": self.reading_16()}, {
            "measurand": self.enum(["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "SoC"]),
            "unit": self.enum(["Wh", "kWh", "W", "kW", "A", "Percent"]),
            "context": self.enum(["Sample.Periodic", "Transaction.Begin", "Transaction.End"]),
            "phase": self.enum(["L1", "L2", "L3", "L1-N"]),
            "format": self.enum(["Raw", "SignedData"]),
            "location": self.enum(["Outlet", "Body"]),
        })
        return st.fixed_dictionaries({"timestamp": self.timestamp(),
                                      "sampledValue": st.lists(sampled, min_size=1, max_size=3)})

    def calls_16(self) -> st.SearchStrategy[Frame]:
        ts, tx = self.timestamp(), self.tx_16()
        meter = self.gated("readings", st.integers(min_value=0, max_value=10**7), st.sampled_from([-1, 2**31, 2**63]))
        actions = {
            "BootNotification": self.obj(
                {"chargePointVendor": self.text(st.just("Acme")), "chargePointModel": self.text(st.just("X"))},
                {"firmwareVersion": self.text(st.just("1.0")), "chargePointSerialNumber": self.any_string()}),
            "Heartbeat": self.obj({}, {}),
            "StatusNotification": self.obj(
                {"connectorId": self.connector(starts=False),
                 "errorCode": self.enum(["NoError", "GroundFailure", "OtherError"]),
                 "status": self.enum(["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Faulted"])},
                {"timestamp": ts, "info": self.text(st.just("info")), "vendorErrorCode": self.any_string()}),
            "Authorize": self.obj({"idTag": self.text(id_token())}, {}),
            "StartTransaction": self.obj(
                {"connectorId": self.connector(starts=True), "idTag": self.text(id_token()), "meterStart": meter,
                 "timestamp": ts},
                {"reservationId": self.integer(st.integers(0, 5))}),
            "MeterValues": self.obj(
                {"connectorId": self.connector(starts=False),
                 "meterValue": st.lists(self.meter_value_16(), min_size=1, max_size=3)},
                {"transactionId": tx}),
            "StopTransaction": self.obj(
                {"transactionId": tx, "meterStop": meter, "timestamp": ts},
                {"idTag": id_token(), "reason": self.enum(["Local", "Remote", "EVDisconnected", "PowerLoss"]),
                 "transactionData": st.lists(self.meter_value_16(), max_size=2)}),
            "DataTransfer": self.obj({"vendorId": self.text(st.just("acme"))},
                                     {"messageId": self.any_string(), "data": self.any_string()}),
            "FirmwareStatusNotification": self.obj({"status": self.enum(["Downloaded", "Installing", "Installed"])},
                                                   {}),
            "DiagnosticsStatusNotification": self.obj({"status": self.enum(["Idle", "Uploaded", "UploadFailed"])},
                                                      {}),
        }
        return weighted(actions, ["StartTransaction", "MeterValues", "StopTransaction"])

    # ------------------------------------------------------------------ OCPP 2.0.1

    def reading_201(self) -> st.SearchStrategy[Any]:
        plain = st.one_of(st.integers(min_value=0, max_value=200_000), st.floats(min_value=0, max_value=2e5))
        return self.gated("readings", self.mostly(plain, HOSTILE_STRINGS, st.none()),
                          st.one_of(st.sampled_from([1e308, -1e308, 1e300, 2**64]), HOSTILE_NUMBERS))

    def meter_value_201(self) -> st.SearchStrategy[dict[str, Any]]:
        multiplier = self.gated("readings", self.integer(st.integers(-3, 3)), st.sampled_from([-20, 9, 20, 10**7]))
        sampled = self.obj({"value": self.reading_201()}, {
            "measurand": self.enum(["Energy.Active.Import.Register", "Power.Active.Import", "SoC"]),
            "context": self.enum(["Sample.Periodic", "Transaction.Begin", "Transaction.End"]),
            "phase": self.enum(["L1", "L2", "L3"]),
            "location": self.enum(["Outlet", "Body"]),
            "unitOfMeasure": self.obj({}, {"unit": self.enum(["Wh", "kWh", "W"]), "multiplier": multiplier}),
        })
        return st.fixed_dictionaries({"timestamp": self.timestamp(),
                                      "sampledValue": st.lists(sampled, min_size=1, max_size=3)})

    def transaction_id_201(self, *, event: str) -> st.SearchStrategy[Any]:
        """A Started event names a new id (or an earlier one again); other events earlier ids
        (made-up ones are the transaction-ids finding's triggers)."""
        fresh = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=36)
        if event == "Started":
            return self.mostly(st.just(FreshTx()), fresh, transaction_ref())
        return self.gated("transaction-ids-201", transaction_ref(),
                          st.one_of(fresh, st.sampled_from(["", " ", "X" * 37]), HOSTILE_STRINGS))

    def transaction_event(self) -> st.SearchStrategy[dict[str, Any]]:
        events = ["Started", "Updated", "Ended"] + (["Unknown"] if self.hostile else [])

        @st.composite
        def build(draw):
            event = draw(st.sampled_from(events))
            kind = "Updated" if event == "Unknown" else event
            body = {
                "eventType": event,
                "timestamp": draw(self.timestamp()),
                "triggerReason": draw(self.enum(["Authorized", "CablePluggedIn", "MeterValuePeriodic", "StopAuthorized",
                                                 "EVCommunicationLost", "ChargingStateChanged"])),
                "seqNo": draw(self.integer(st.integers(0, 100))),
                "transactionInfo": draw(self.obj(
                    {"transactionId": self.transaction_id_201(event=kind)},
                    {"chargingState": self.enum(["Charging", "EVConnected", "SuspendedEV", "Idle"]),
                     "stoppedReason": self.enum(["Local", "Remote", "EVDisconnected"]),
                     "remoteStartId": self.integer(st.integers(0, 5))})),
            }
            if kind == "Started" or draw(st.booleans()):
                body["evse"] = draw(self.obj({"id": self.connector(starts=kind == "Started")},
                                             {"connectorId": self.integer(st.sampled_from([1, 2]))}))
            if kind == "Started" or draw(st.booleans()):
                body["idToken"] = draw(self.obj({"idToken": self.text(id_token()),
                                                 "type": self.enum(["ISO14443", "Central", "eMAID"])}, {}))
            if draw(st.booleans()):
                body["meterValue"] = draw(st.lists(self.meter_value_201(), min_size=1, max_size=2))
            if draw(st.booleans()):
                body["offline"] = draw(self.mostly(st.booleans(), HOSTILE_STRINGS))
            return body

        return build()

    def calls_201(self) -> st.SearchStrategy[Frame]:
        ts = self.timestamp()
        actions = {
            "BootNotification": self.obj(
                {"chargingStation": self.obj({"model": self.text(st.just("X")), "vendorName": self.text(st.just("Acme"))},
                                             {"firmwareVersion": self.any_string()}),
                 "reason": self.enum(["PowerUp", "Watchdog"])}, {}),
            "Heartbeat": self.obj({}, {}),
            "StatusNotification": self.obj(
                {"timestamp": ts,
                 "connectorStatus": self.enum(["Available", "Occupied", "Reserved", "Unavailable", "Faulted"]),
                 "evseId": self.connector(starts=False), "connectorId": self.integer(st.sampled_from([1, 2]))}, {}),
            "Authorize": self.obj({"idToken": self.obj({"idToken": self.text(id_token()),
                                                        "type": self.enum(["ISO14443", "Central"])}, {})}, {}),
            "TransactionEvent": self.transaction_event(),
            "MeterValues": self.obj({"evseId": self.connector(starts=False),
                                     "meterValue": st.lists(self.meter_value_201(), min_size=1, max_size=2)}, {}),
            "DataTransfer": self.obj({"vendorId": self.text(st.just("acme"))},
                                     {"messageId": self.any_string(), "data": self.any_string()}),
            "FirmwareStatusNotification": self.obj({"status": self.enum(["Downloaded", "Installing", "Installed"])},
                                                   {}),
            "SecurityEventNotification": self.obj({"type": self.any_string(), "timestamp": ts},
                                                  {"techInfo": self.any_string()}),
            "NotifyEvent": self.obj({"generatedAt": ts, "seqNo": self.integer(st.integers(0, 3)),
                                     "eventData": st.lists(st.dictionaries(st.sampled_from(["eventId", "trigger"]),
                                                                           self.any_string()), max_size=2)}, {}),
        }
        return weighted(actions, ["TransactionEvent", "MeterValues"])


def id_token() -> st.SearchStrategy[str]:
    from live import DRIVER_TAG

    return st.one_of(st.just(DRIVER_TAG), st.just(DRIVER_TAG.lower()), st.text(string.ascii_uppercase, max_size=20))


def transaction_ref() -> st.SearchStrategy[Any]:
    return st.integers(min_value=0, max_value=9).map(TxRef)


def weighted(actions: dict[str, st.SearchStrategy[Any]], busy: list[str]) -> st.SearchStrategy[Frame]:
    """One CALL of `actions`, those of transactions (`busy`) three times as often as others."""
    frames = {a: p.map(lambda payload, a=a: Frame(a, payload)) for a, p in actions.items()}
    return st.one_of(*(frames[a] for a in busy * 3), *(frames[a] for a in actions if a not in busy))


def calls(version: str, enabled: frozenset[str] = frozenset()) -> st.SearchStrategy[Frame]:
    """CALLs of `version`: plausible ones, and ones with hostile values."""
    kinds = [Gen(enabled, hostile=False), Gen(enabled, hostile=True)]
    return st.one_of(*(g.calls_16() if version == "1.6" else g.calls_201() for g in kinds))


# --------------------------------------------------------------------------- malformed frames

def nested(depth: int) -> str:
    """JSON text of objects nested `depth` deep (written out: json.dumps itself would recurse)."""
    return '{"a": [' * depth + "{}" + "]}" * depth


def malformed(version: str, enabled: frozenset[str] = frozenset()) -> st.SearchStrategy[Frame]:
    """Frames a broken charger may send. Those that read as a CALL (a list starting 2 with a
    string id) expect an answer; the others only must not disturb the connection."""
    depth = gated("deep-json", enabled, st.integers(min_value=1, max_value=30), st.integers(min_value=500, max_value=5000))
    json_values = st.recursive(st.none() | st.booleans() | HOSTILE_NUMBERS | HOSTILE_STRINGS,
                               lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                             max_size=3),
                               max_leaves=10)
    action = st.sampled_from(["Heartbeat", "BootNotification", "StartTransaction", "TransactionEvent", "Unknown",
                              "heartbeat", "", "X" * 200])
    raw = st.one_of(
        st.sampled_from(["", " ", "null", "[]", "{}", "[2]", "[2, \"id\"]", "[2, 1, \"Heartbeat\", {}]", "[5, \"x\"]",
                         "[2, \"id\", \"Heartbeat\", {}, \"extra\"]", "[\"2\", \"id\", \"Heartbeat\", {}]",
                         "[2, \"id\", \"Heartbeat\", {},]", "[2, \"id\", \"Heartbeat\", {\"a\": NaN}]",
                         "[2, \"id\", \"Heartbeat\", {\"a\": Infinity}]", "\ufeff[2, \"id\", \"Heartbeat\", {}]",
                         "[2, \"id\", \"Heartbeat\", null]", "[2, \"id\", \"Heartbeat\", []]", "[2, null, null, null]",
                         "[3, \"nobody-asked\", {}]", "[4, \"nobody-asked\", \"GenericError\", \"\", {}]"]),
        st.text(max_size=50),
        json_values.map(json.dumps),
        st.lists(json_values, max_size=6).map(json.dumps),
        depth.map(lambda d: f'[2, "deep-{d}", "Heartbeat", {nested(d)}]'),
        st.tuples(st.one_of(st.integers(-3, 9), st.floats(allow_nan=False), HOSTILE_STRINGS), json_values,
                  action, json_values).map(lambda t: json.dumps(list(t))),
    )
    huge_ids = st.tuples(st.integers(min_value=37, max_value=100_000), action).map(
        lambda t: Frame(t[1], {}, message_id="I" * t[0]))
    odd_ids = st.tuples(HOSTILE_STRINGS, action, json_values).map(
        lambda t: Frame(t[1], t[2] if isinstance(t[2], dict) else {}, message_id=t[0]))
    unsolicited = st.tuples(st.text(min_size=1, max_size=36), json_values).map(
        lambda t: Frame(raw=json.dumps([3, t[0], t[1]]), expects_answer=False))
    return st.one_of(raw.map(lambda text_: Frame(raw=text_, expects_answer=_reads_as_call(text_))), huge_ids, odd_ids,
                     unsolicited)


def _reads_as_call(text_: str) -> bool:
    return message_id(text_) is not None


_HEAD = re.compile(r'^\s*\[\s*2\s*,\s*"((?:[^"\\]|\\.)*)"')


def message_id(text_: str) -> str | None:
    """The message id of a frame that reads as a CALL (a list starting 2 and a string), else None."""
    try:
        frame = json.loads(text_)
    except RecursionError:  # nested deeper than Python's parser goes: read its head
        head = _HEAD.match(text_)
        return json.loads(f'"{head.group(1)}"') if head else None
    except ValueError:
        return None
    if isinstance(frame, list) and len(frame) >= 2 and frame[0] == 2 and isinstance(frame[1], str):
        return frame[1]
    return None
