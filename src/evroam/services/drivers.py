"""Our drivers (we are their eMSP): contracts, tokens, driver API keys, and the real-time
authorization of their tokens that CPOs ask us for.

A driver has a contract id (an eMA-ID of our party), one or more tokens (an APP_USER token is
always made, for starting from the app; RFID cards besides), a status (ACTIVE or BLOCKED) and
optionally a contract end, a monthly credit limit and the CPO parties they may charge at.

A token is valid when it is enabled and its driver is active; every change is pushed to the
CPO partners that may know the token (services/tokens.py).

Real-time authorization (OCPI tokens sender, POST {uid}/authorize) answers, in this order:
BLOCKED (token not valid: blocked token or driver), EXPIRED (the contract end has passed),
NOT_ALLOWED (the driver may not charge at the CPO party of the location), NO_CREDIT (the
driver's CDRs this month, incl. VAT, have reached the monthly credit limit), else ALLOWED.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from evroam.events import Bus
from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.drivers import Driver, DriverStatus, EmaId, parse_emaid
from evroam.model.tokens import AllowedType, Token, WhitelistType
from evroam.model.types import TokenType
from evroam.services.driver_records import DriverRecords
from evroam.services.errors import Forbidden, Invalid, NotFound, ServiceError
from evroam.services.invoices import InvoiceService
from evroam.services.objects import validated
from evroam.services.tokens import TokenService, visible_to
from evroam.settings import Settings
from evroam.store import Store

API_KEY_PREFIX = "evd_"
DRIVER_TOKEN_TYPES = (TokenType.RFID.value, TokenType.APP_USER.value)
_CPO_RE = re.compile(r"^[A-Z]{2}/[A-Z0-9]{3}$")
UNSET: Any = object()


class NotEnoughInformation(ServiceError):
    """The request does not tell enough to decide (OCPI 2002)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def parse_cpos(values: Iterable[str] | None) -> list[str]:
    """CPO parties as `CC/PID` (upper-cased, unique, in the given order)."""
    out: list[str] = []
    for value in values or ():
        v = str(value).strip().upper()
        if not _CPO_RE.match(v):
            raise Invalid(f"allowed_cpos: {value!r} is not a CPO party such as NL/ABC (country code/party id)")
        if v not in out:
            out.append(v)
    return out


def parse_limit(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        limit = Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid(f"credit_limit: {value!r} is not an amount such as 50.00") from None
    if not limit.is_finite() or limit < 0:
        raise Invalid(f"credit_limit: {value!r} must be an amount of 0 or more")
    return limit.quantize(Decimal("0.01"))


def parse_end(value: Any) -> datetime | None:
    """A contract end: an OCPI DateTime, or a date (the contract ends at its start, UTC)."""
    if value is None or isinstance(value, datetime):
        return parse_datetime(value) if value is not None else None
    text = str(value).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        text += "T00:00:00Z"
    try:
        return parse_datetime(text)
    except ValueError as exc:
        raise Invalid(f"contract_end: {exc}") from None


@dataclass
class NewDriver:
    driver: Driver
    tokens: list[dict[str, Any]]
    api_key: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.driver.to_dict(), "tokens": self.tokens, "api_key": self.api_key}


class DriverService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, tokens: TokenService, invoices: InvoiceService,
                 records: DriverRecords) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.tokens = tokens
        self.invoices = invoices
        self.records = records

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    # ------------------------------------------------------------------ validation

    def contract(self, value: str) -> EmaId:
        """An eMA-ID of our own party."""
        try:
            emaid = parse_emaid(value)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        cc, pid = self.owner
        if (emaid.country_code, emaid.provider_id) != (cc, pid):
            raise Invalid(f"contract id {value!r} is issued by {emaid.country_code}-{emaid.provider_id}, "
                          f"not by us ({cc}-{pid})")
        return emaid

    def _token(self, driver: Driver, uid: str, token_type: str, *, whitelist: str, valid: bool,
               now: str) -> dict[str, Any]:
        cc, pid = self.owner
        raw = {"country_code": cc, "party_id": pid, "uid": uid, "type": token_type,
               "contract_id": driver.contract.display, "issuer": self.settings.business_name, "valid": valid,
               "whitelist": whitelist, "last_updated": now}
        if token_type == TokenType.RFID.value:
            raw["visual_number"] = driver.contract.display
        return validated(Token, raw, where="token").to_dict()

    @staticmethod
    def _token_args(uid: str | None, token_type: str | None, whitelist: str | None) -> tuple[str, str, str]:
        token_type = (token_type or TokenType.RFID.value).upper()
        if token_type not in DRIVER_TOKEN_TYPES:
            raise Invalid(f"token type: {token_type!r} is not one of {', '.join(DRIVER_TOKEN_TYPES)}")
        whitelist = (whitelist or WhitelistType.ALLOWED.value).upper()
        if whitelist not in WhitelistType.__members__:
            raise Invalid(f"whitelist: {whitelist!r} is not one of {', '.join(WhitelistType.__members__)}")
        if uid is None:
            uid = "APP" + secrets.token_hex(8).upper() if token_type == TokenType.APP_USER.value else None
        if not uid or not re.match(r"^[\x21-\x7e]{1,36}$", uid):
            raise Invalid(f"token uid: {uid!r} must be 1 to 36 printable characters without spaces")
        return uid, token_type, whitelist

    # ------------------------------------------------------------------ drivers

    async def add(self, name: str, *, email: str | None = None, contract_id: str | None = None,
                  token_uid: str | None = None, token_type: str | None = None, whitelist: str | None = None,
                  credit_limit: Any = None, contract_end: Any = None,
                  allowed_cpos: Sequence[str] | None = None) -> NewDriver:
        """A new driver with an APP_USER token (and `token_uid` of `token_type`, RFID by default,
        when given), an API key (returned once, stored hashed) and a contract id (generated when
        not given). The tokens are pushed to our CPO partners."""
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise Invalid("name: 1 to 100 characters")
        if email is not None and (len(email) > 255 or "@" not in email):
            raise Invalid(f"email: {email!r} is not an e-mail address")
        limit = parse_limit(credit_limit)
        end = parse_end(contract_end)
        cpos = parse_cpos(allowed_cpos)
        wanted: list[tuple[str, str, str]] = []
        if token_uid is not None:
            wanted.append(self._token_args(token_uid, token_type, whitelist))
        elif token_type is not None:
            raise Invalid("token type given without a token uid (--token-uid)")
        if not any(t == TokenType.APP_USER.value for _, t, _ in wanted):
            wanted.append(self._token_args(None, TokenType.APP_USER.value, whitelist))
        emaid = self.contract(contract_id) if contract_id else None
        api_key = new_api_key()
        now = format_datetime(utcnow())
        async with self.store.begin() as conn:
            if await self.store.drivers.find(conn, name) is not None:
                raise Invalid(f"a driver named {name!r} exists already")
            if emaid is None:
                emaid = await self._new_contract(conn)
            elif (other := await self.store.drivers.by_contract(conn, emaid.compact)) is not None:
                raise Invalid(f"contract id {emaid.display} belongs to driver {other.name!r} already")
            for uid, token_type_, _ in wanted:
                await self._check_free(conn, uid, token_type_)
            driver = await self.store.drivers.create(
                conn, id="DRV" + secrets.token_hex(5).upper(), name=name, email=email, contract_id=emaid.compact,
                contract_end=end, credit_limit=limit, allowed_cpos=cpos, api_key_hash=hash_key(api_key))
            made = []
            for uid, token_type_, whitelist_ in wanted:
                await self.store.drivers.add_token(conn, driver.pk, uid, token_type_)
                token = self._token(driver, uid, token_type_, whitelist=whitelist_, valid=True, now=now)
                await self.tokens.put_own(conn, token, driver=driver)
                made.append(token)
        for token in made:
            self.tokens.changed(token)
        self.bus.publish("driver.changed", driver_id=driver.id)
        return NewDriver(driver, made, api_key)

    async def _new_contract(self, conn) -> EmaId:
        cc, pid = self.owner
        for _ in range(20):
            emaid = parse_emaid(f"{cc}{pid}C{secrets.randbelow(10**8):08d}")
            if await self.store.drivers.by_contract(conn, emaid.compact) is None:
                return emaid
        raise Invalid("could not find a free contract id; give one with contract_id")

    async def _check_free(self, conn, uid: str, token_type: str) -> None:
        if await self.tokens.own_in(conn, uid, token_type) is not None:
            raise Invalid(f"token {uid!r} ({token_type}) exists already")

    async def get(self, key: str) -> Driver:
        """A driver by id or name."""
        async with self.store.connect() as conn:
            driver = await self.store.drivers.find(conn, key)
        if driver is None:
            raise NotFound(f"driver {key!r} not found", kind="driver")
        return driver

    async def list(self) -> list[Driver]:
        async with self.store.connect() as conn:
            return await self.store.drivers.list(conn)

    async def by_api_key(self, key: str) -> Driver | None:
        if not key or not key.startswith(API_KEY_PREFIX):
            return None
        async with self.store.connect() as conn:
            return await self.store.drivers.by_api_key_hash(conn, hash_key(key))

    async def tokens_of(self, driver: Driver) -> list[dict[str, Any]]:
        async with self.store.connect() as conn:
            return await self._tokens_of(conn, driver)

    async def _tokens_of(self, conn, driver: Driver) -> list[dict[str, Any]]:
        out = []
        for uid, token_type, _enabled in await self.store.drivers.tokens_of(conn, driver.pk):
            token = await self.tokens.own_in(conn, uid, token_type)
            if token is not None:
                out.append(token)
        return out

    async def view(self, driver: Driver) -> dict[str, Any]:
        """The driver with tokens and this month's spend (what /me and the admin API show)."""
        await self.records.catch_up()
        async with self.store.connect() as conn:
            tokens = await self._tokens_of(conn, driver)
            spent = await self.invoices.spend(conn, driver)
        return {**driver.to_dict(), "tokens": tokens,
                "spent_this_month": {"currency": self.settings.currency, "incl_vat": str(spent)},
                "has_api_key": driver.has_api_key}

    async def new_key(self, key: str) -> str:
        """Issue a new API key (the old one stops working); shown once."""
        api_key = new_api_key()
        async with self.store.begin() as conn:
            driver = await self._find(conn, key)
            await self.store.drivers.update(conn, driver.pk, api_key_hash=hash_key(api_key))
        self.bus.publish("driver.changed", driver_id=driver.id)
        return api_key

    async def _find(self, conn, key: str) -> Driver:
        driver = await self.store.drivers.find(conn, key)
        if driver is None:
            raise NotFound(f"driver {key!r} not found", kind="driver")
        return driver

    async def update(self, key: str, *, email: Any = UNSET, contract_end: Any = UNSET, credit_limit: Any = UNSET,
                     allowed_cpos: Any = UNSET) -> Driver:
        """Change a driver's e-mail, contract end, credit limit or allowed CPOs (None clears the
        first three; an empty list allows every CPO). Tokens are pushed to CPOs that may now know
        them, and pushed invalid to those that may no longer."""
        values: dict[str, Any] = {}
        if email is not UNSET:
            if email is not None and (len(email) > 255 or "@" not in email):
                raise Invalid(f"email: {email!r} is not an e-mail address")
            values["email"] = email
        if contract_end is not UNSET:
            values["contract_end"] = parse_end(contract_end)
        if credit_limit is not UNSET:
            values["credit_limit"] = parse_limit(credit_limit)
        if allowed_cpos is not UNSET:
            values["allowed_cpos"] = parse_cpos(allowed_cpos)
        async with self.store.begin() as conn:
            before = await self._find(conn, key)
            if values:
                await self.store.drivers.update(conn, before.pk, **values)
            driver = await self.store.drivers.get(conn, before.pk)
            changed: list[dict] = []
            if "allowed_cpos" in values and values["allowed_cpos"] != before.allowed_cpos:
                partners = await self.tokens.cpo_partners(conn)
                revoked = [p for p in partners if visible_to(before, p) and not visible_to(driver, p)]
                changed = await self._refresh_tokens(conn, driver, revoke_from=revoked, force=True)
        for token in changed:
            self.tokens.changed(token)
        self.bus.publish("driver.changed", driver_id=driver.id)
        return driver

    async def set_blocked(self, key: str, blocked: bool) -> Driver:
        """Block or unblock a driver: every token of theirs becomes invalid (or valid again when
        enabled) and is pushed."""
        async with self.store.begin() as conn:
            driver = await self._find(conn, key)
            await self.store.drivers.update(conn, driver.pk,
                                            status=DriverStatus.BLOCKED if blocked else DriverStatus.ACTIVE)
            driver = await self.store.drivers.get(conn, driver.pk)
            changed = await self._refresh_tokens(conn, driver)
        for token in changed:
            self.tokens.changed(token)
        self.bus.publish("driver.changed", driver_id=driver.id)
        return driver

    async def add_token(self, key: str, uid: str | None, token_type: str | None = None,
                        whitelist: str | None = None) -> dict[str, Any]:
        """Give a driver another token (an RFID card, or an app token when `uid` is None)."""
        uid, token_type, whitelist = self._token_args(uid, token_type, whitelist)
        async with self.store.begin() as conn:
            driver = await self._find(conn, key)
            await self._check_free(conn, uid, token_type)
            await self.store.drivers.add_token(conn, driver.pk, uid, token_type)
            token = self._token(driver, uid, token_type, whitelist=whitelist, valid=driver.active,
                                now=format_datetime(utcnow()))
            await self.tokens.put_own(conn, token, driver=driver)
        self.tokens.changed(token)
        return token

    async def set_token_enabled(self, key: str, uid: str, token_type: str, enabled: bool) -> dict[str, Any]:
        """Block (or unblock) one token of a driver."""
        token_type = (token_type or TokenType.RFID.value).upper()
        async with self.store.begin() as conn:
            driver = await self._find(conn, key)
            if not await self.store.drivers.set_token_enabled(conn, driver.pk, uid, token_type, enabled):
                raise NotFound(f"driver {driver.name!r} has no token {uid!r} ({token_type})", kind="token")
            changed = await self._refresh_tokens(conn, driver)
            token = await self.tokens.own_in(conn, uid, token_type)
        for t in changed:
            self.tokens.changed(t)
        return token

    async def _refresh_tokens(self, conn, driver: Driver, *, revoke_from=(), force: bool = False) -> list[dict]:
        """Bring the driver's tokens' `valid` in line with the driver and push those that changed
        (all of them with `force`)."""
        now = format_datetime(utcnow())
        changed = []
        for uid, token_type, enabled in await self.store.drivers.tokens_of(conn, driver.pk):
            token = await self.tokens.own_in(conn, uid, token_type)
            if token is None:
                continue
            valid = enabled and driver.active
            if token.get("valid") == valid and not force:
                continue
            token = {**token, "valid": valid, "last_updated": now}
            await self.tokens.put_own(conn, token, driver=driver, revoke_from=revoke_from)
            changed.append(token)
        return changed

    # ------------------------------------------------------------------ real-time authorization

    async def authorize(self, uid: str, token_type: str, location: dict[str, Any] | None = None, *,
                        parties: Sequence[tuple[str, str]] | None = None,
                        from_party: tuple[str, str] | None = None) -> dict[str, Any]:
        """The AuthorizationInfo for one of our tokens. `parties`: the CPO parties of the partner
        that asks, `from_party`: the party its routing headers name. Unknown token: NotFound
        (OCPI 2004); a driver limited to some CPOs when we cannot tell which CPO asks:
        NotEnoughInformation (OCPI 2002)."""
        now = utcnow()
        async with self.store.connect() as conn:
            token = await self.tokens.own_in(conn, uid, token_type)
            if token is None:
                raise NotFound(f"token {uid!r} ({token_type}) is unknown", kind="token")
            held = await self.store.drivers.token_owner(conn, uid, token_type)
            driver = held[0] if held else None
            allowed, why = AllowedType.ALLOWED, None
            if not token.get("valid"):
                allowed = AllowedType.BLOCKED
                why = "this card is blocked" if driver is None or driver.active else "this account is blocked"
            elif driver is not None and driver.expired(now):
                allowed, why = AllowedType.EXPIRED, f"the contract ended on {format_datetime(driver.contract_end)}"
            elif driver is not None and driver.allowed_cpos:
                party = await self._charging_party(conn, location, parties, from_party)
                if party is None:
                    raise NotEnoughInformation(
                        "this token may charge only at some CPOs: send LocationReferences (or OCPI-from routing "
                        "headers) so we can tell which CPO asks")
                if not driver.may_charge_at(*party):
                    allowed, why = AllowedType.NOT_ALLOWED, f"this contract does not cover {party[0]}/{party[1]}"
        if allowed == AllowedType.ALLOWED and driver is not None and driver.credit_limit is not None:
            await self.records.catch_up()
            async with self.store.connect() as conn:
                spent = await self.invoices.spend(conn, driver, now)
            if spent >= driver.credit_limit:
                allowed = AllowedType.NO_CREDIT
                why = f"the monthly credit limit of {driver.credit_limit} {self.settings.currency} is reached"
        info: dict[str, Any] = {"allowed": allowed.value, "token": token,
                                "authorization_reference": secrets.token_hex(12)}
        if allowed == AllowedType.ALLOWED and isinstance(location, dict) and location.get("location_id"):
            info["location"] = {k: v for k, v in location.items() if k in ("location_id", "evse_uids")}
        if why:
            info["info"] = {"language": "en", "text": why}
        self.bus.publish("token.authorized", uid=uid, allowed=info["allowed"],
                         driver_id=driver.id if driver else None)
        return info

    async def _charging_party(self, conn, location: dict[str, Any] | None, parties: Sequence[tuple[str, str]] | None,
                              from_party: tuple[str, str] | None) -> tuple[str, str] | None:
        """The CPO party where the token wants to charge: the one of the asking partner's parties
        whose location it names, else the party its routing headers name, else its only party."""
        candidates = [(cc.upper(), pid.upper()) for cc, pid in parties or ()]
        if isinstance(location, dict) and location.get("location_id"):
            for cc, pid in candidates:
                if await self.store.locations.get(conn, cc, pid, str(location["location_id"])) is not None:
                    return cc, pid
        if from_party is not None and (from_party[0].upper(), from_party[1].upper()) in candidates:
            return from_party[0].upper(), from_party[1].upper()
        if len(candidates) == 1:
            return candidates[0]
        return None

    async def check_may_start(self, driver: Driver, token: dict[str, Any], cc: str, pid: str) -> None:
        """Before we ask a CPO to start a session for a driver: the same rules as real-time
        authorization. Forbidden says why not."""
        info = await self.authorize(token["uid"], token["type"], None, parties=[(cc, pid)])
        if info["allowed"] != AllowedType.ALLOWED.value:
            raise Forbidden(f"{info['allowed']}: {info.get('info', {}).get('text', 'not allowed')}")
