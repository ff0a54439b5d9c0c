"""Pushing our changes to partners, durably.

`Pushes` writes one outbox row per interested partner inside the caller's transaction, so a
change and its pushes commit together. `OutboxWorker` delivers the rows: oldest first, one
object's messages strictly in order, retried with exponential back-off while the partner is
unreachable (never dropped), and resumed after a restart from the table alone.

Most pushes go to every partner that receives a module (locations, tariffs). Sessions and CDRs
go to one partner only (the eMSP of the driver's token): `to_partner`. A message whose path is
an absolute URL (e.g. a CommandResult to the `response_url` an eMSP gave) is sent there instead
of below the partner's module endpoint: `post_url`."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.model.partners import Partner
from evroam.ocpi import delivery, registry
from evroam.ocpi.delivery import is_absolute
from evroam.ocpi.mappings import CannotSay
from evroam.ocpi.registry import SENDER
from evroam.ocpi.transport.errors import PartnerCallError
from evroam.services.errors import Invalid
from evroam.store.outbox import OutboxMessage

if TYPE_CHECKING:
    from evroam.app import Platform

log = logging.getLogger(__name__)

# Who receives our pushes of a module: partners playing one of these roles (a hub broadcasts
# them to the parties it routes for).
RECEIVER_ROLES = {
    "locations": ("EMSP", "NSP", "NAP", "SCSP", "OTHER", "HUB", "PTP"),
    "tariffs": ("EMSP", "NSP", "NAP", "SCSP", "OTHER", "HUB", "PTP"),
    "tokens": ("CPO", "HUB"),
}


#: pushes addressed to one party (the eMSP of a session's token), not to every receiver
ADDRESSED = frozenset({"sessions", "cdrs"})


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class Pushes:
    """Enqueue pushes of our own objects to every registered partner that receives them."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def _targets(self, conn: AsyncConnection, module: str):
        roles = RECEIVER_ROLES[module]
        for partner in await self.platform.store.partners.registered(conn):
            if partner.endpoint(module, "RECEIVER") and any(partner.has_role(r) for r in roles):
                yield partner

    async def _enqueue(self, conn: AsyncConnection, module: str, object_key: str, method: str, path: str,
                       body: Any) -> int:
        payload = orjson.dumps(body).decode() if body is not None else None
        n = 0
        async for partner in self._targets(conn, module):
            if module == "tariffs" and body is not None and registry.get(partner.version).mapping.refusal("tariff", body):
                continue  # its version cannot say this tariff: not sent (the partner view says why)
            await self.platform.store.outbox.enqueue(conn, partner_pk=partner.pk, module=module,
                                                     object_key=object_key, method=method, path=path, body=payload)
            n += 1
        return n

    def _owner_path(self, *ids: str) -> str:
        s = self.platform.settings
        return "/" + "/".join(_seg(p) for p in (s.country_code, s.party_id, *ids))

    async def location_put(self, conn: AsyncConnection, location: dict[str, Any]) -> int:
        return await self._enqueue(conn, "locations", f"locations:{location['id']}", "PUT",
                                   self._owner_path(location["id"]), location)

    async def evse_patch(self, conn: AsyncConnection, location_id: str, evse_uid: str, patch: dict[str, Any]) -> int:
        return await self._enqueue(conn, "locations", f"locations:{location_id}", "PATCH",
                                   self._owner_path(location_id, evse_uid), patch)

    async def tariff_put(self, conn: AsyncConnection, tariff: dict[str, Any]) -> int:
        return await self._enqueue(conn, "tariffs", f"tariffs:{tariff['id']}", "PUT",
                                   self._owner_path(tariff["id"]), tariff)

    async def tariff_delete(self, conn: AsyncConnection, tariff_id: str) -> int:
        return await self._enqueue(conn, "tariffs", f"tariffs:{tariff_id}", "DELETE",
                                   self._owner_path(tariff_id), None)

    # ------------------------------------------------------------------ one partner

    async def to_partner(self, conn: AsyncConnection, partner_pk: int, module: str, object_key: str, method: str,
                         path: str, body: Any) -> int:
        """A push to one partner only: `path` below its `module` receiver endpoint, or an
        absolute URL. Messages of one `object_key` are delivered in the order enqueued. A push
        through a hub to a party the hub reports not connected is not queued (0): that party is
        brought up to date when it connects again (services/hub_parties.py)."""
        if module in ADDRESSED and isinstance(body, dict) and isinstance(body.get("cdr_token"), dict):
            partner = await self.platform.store.partners.get(conn, partner_pk)
            token = body["cdr_token"]
            if partner is not None and partner.is_hub:
                status = partner.party_status(str(token.get("country_code", "")), str(token.get("party_id", "")))
                if status not in (None, "CONNECTED"):
                    log.info("not queued: %s %s to %s/%s, which hub %s reports %s", method, object_key,
                             token.get("country_code"), token.get("party_id"), partner.name, status)
                    return 0
        payload = orjson.dumps(body).decode() if body is not None else None
        return await self.platform.store.outbox.enqueue(conn, partner_pk=partner_pk, module=module,
                                                        object_key=object_key, method=method, path=path,
                                                        body=payload)

    async def post_url(self, conn: AsyncConnection, partner_pk: int, url: str, body: Any, *,
                       module: str = "commands", object_key: str | None = None) -> int:
        """POST `body` to an absolute URL of a partner (e.g. a CommandResult to the command's
        `response_url`), with the partner's credentials and the outbox's retries."""
        if not is_absolute(url):
            raise ValueError(f"not an absolute URL: {url!r}")
        return await self.to_partner(conn, partner_pk, module, (object_key or f"{module}:{url}")[:150], "POST",
                                     url, body)

    async def session_put(self, conn: AsyncConnection, partner_pk: int, session: dict[str, Any]) -> int:
        """The whole Session to the eMSP of its token (PUT replaces its charging periods)."""
        return await self.to_partner(conn, partner_pk, "sessions", f"sessions:{session['id']}", "PUT",
                                     self._owner_path(session["id"]), session)

    async def session_patch(self, conn: AsyncConnection, partner_pk: int, session_id: str,
                            patch: dict[str, Any]) -> int:
        """What changed in a Session (its `charging_periods` are appended by the eMSP), in order
        with the Session's other pushes."""
        return await self.to_partner(conn, partner_pk, "sessions", f"sessions:{session_id}", "PATCH",
                                     self._owner_path(session_id), patch)

    async def cdr_post(self, conn: AsyncConnection, partner_pk: int, cdr: dict[str, Any]) -> int:
        """A CDR to the eMSP of its token (POST to its cdrs receiver)."""
        return await self.to_partner(conn, partner_pk, "cdrs", f"cdrs:{cdr['id']}", "POST", "", cdr)

    async def token_put(self, conn: AsyncConnection, partner_pk: int, token: dict[str, Any]) -> int:
        """One of our tokens to a CPO's tokens receiver: /{country_code}/{party_id}/{uid}?type=."""
        path = "/" + "/".join(_seg(token[k]) for k in ("country_code", "party_id", "uid")) + \
            f"?type={_seg(token['type'])}"
        return await self.to_partner(conn, partner_pk, "tokens", f"tokens:{token['type']}:{token['uid']}", "PUT",
                                     path, token)

    async def active_profile_put(self, conn: AsyncConnection, partner: Partner, session_id: str,
                                 active: dict[str, Any]) -> bool:
        """A session's ActiveChargingProfile to the eMSP's chargingprofiles Sender interface
        (False: the eMSP offers none)."""
        url = partner.endpoint("chargingprofiles", "SENDER")
        if not url:
            return False
        await self.to_partner(conn, partner.pk, "chargingprofiles", f"chargingprofiles:{session_id}", "PUT",
                              url.rstrip("/") + "/" + _seg(session_id), active)
        return True


    async def terminal_push(self, conn: AsyncConnection, partner: Partner, method: str, path: str, body: Any, *,
                            object_key: str) -> int:
        """To a PTP's payments Sender interface (2.3.0), in order per terminal."""
        version = registry.get(partner.version)
        if version.pushes_to("payments") != SENDER or not partner.endpoint("payments", SENDER):
            raise Invalid(f"partner {partner.name} (OCPI {version.number}) offers no payments sender interface "
                          "(the payments module): it cannot be told about terminals")
        return await self.to_partner(conn, partner.pk, "payments", object_key[:150], method, path, body)


class OutboxWorker:
    """Delivers the outbox. Woken at once by `outbox.enqueued` events (of every node), and
    every `outbox_poll_seconds` for rows written by other processes (the CLI). Each node of a
    platform runs one; claims keep them from sending a message twice."""

    def __init__(self, platform: Platform, *, concurrency: int = 8) -> None:
        self.platform = platform
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._sem = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task | None = None
        # longer than any delivery can take (a call times out after ocpi_timeout)
        self.claim_seconds = max(60.0, 4 * platform.settings.ocpi_timeout)
        platform.bus.subscribe("outbox.enqueued", lambda _e: self._wake.set(), everywhere=True)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-worker")

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._task:
            await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        settings = self.platform.settings
        while not self._stop.is_set():
            # Cleared before looking, so a push enqueued while this round runs wakes the next one.
            self._wake.clear()
            try:
                delivered = await self.run_once()
            except Exception:
                log.exception("outbox round failed; retrying")
                delivered = 0
            if delivered:
                continue  # more may be waiting behind what was just delivered
            timeout = settings.outbox_poll_seconds
            async with self.platform.store.connect() as conn:
                nxt = await self.platform.store.outbox.next_attempt_at(conn)
            if nxt is not None:
                timeout = max(0.0, min(timeout, (nxt - utcnow()).total_seconds()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Deliver every message that is due now; the number delivered (or given up as failed).
        The messages are claimed for this node first: a message claimed by another node of the
        platform is left to it (a claim of a node that died expires after `claim_seconds`)."""
        now = utcnow()
        async with self.platform.store.begin() as conn:
            due = await self.platform.store.outbox.claim(conn, node=self.platform.node, now=now,
                                                         until=now + timedelta(seconds=self.claim_seconds))
        if not due:
            return 0
        async with self.platform.store.connect() as conn:
            partners = {p.pk: p for p in await self.platform.store.partners.list(conn)}
        results = await asyncio.gather(*(self._deliver(m, partners.get(m.partner_pk)) for m in due))
        return sum(results)

    async def _deliver(self, message: OutboxMessage, partner) -> int:
        store = self.platform.store
        attempts = message.attempts + 1
        if partner is None or not partner.registered or not partner.outgoing_token:
            await self._retry(message, attempts, "partner is not registered (waiting for it to register again)")
            return 0
        base = None
        if not is_absolute(message.path):
            role = registry.get(partner.version).pushes_to(message.module)
            base = partner.endpoint(message.module, role)
            if not base:
                await self._retry(message, attempts, f"partner has no {message.module} {role.lower()} endpoint")
                return 0
        try:
            said = await delivery.say(self.platform, message, partner, base)
        except CannotSay as exc:  # not sent rather than sent wrong; kept for an operator to see
            log.warning("push %s %s cannot be said to partner %s (OCPI %s): %s", message.method, message.path,
                        partner.name, partner.version, exc.reason)
            async with store.begin() as conn:
                await store.outbox.failed(conn, message.pk, attempts=attempts,
                                          error=f"cannot be said in OCPI {partner.version}: {exc.reason}")
            return 1
        url = said.url
        async with self._sem:
            try:
                await self.platform.ocpi.call(
                    said.method, url, token=partner.outgoing_token, encoding=partner.outgoing_encoding,
                    json=orjson.dumps(said.body) if said.body is not None else None, module=message.module,
                    to_party=said.to_party,
                )
            except PartnerCallError as exc:
                if exc.retryable:
                    await self._retry(message, attempts, str(exc))
                    return 0
                log.warning("partner %s refused %s %s: %s", partner.name, said.method, url, exc)
                async with store.begin() as conn:
                    await store.outbox.failed(conn, message.pk, attempts=attempts, error=str(exc))
                return 1
        async with store.begin() as conn:
            await store.outbox.delivered(conn, message.pk)
        return 1

    async def _retry(self, message: OutboxMessage, attempts: int, error: str) -> None:
        s = self.platform.settings
        delay = min(s.outbox_backoff_max, s.outbox_backoff_base * (2 ** min(attempts - 1, 20)))
        async with self.platform.store.begin() as conn:
            await self.platform.store.outbox.retry(conn, message.pk, attempts=attempts,
                                                   next_attempt_at=utcnow() + timedelta(seconds=delay), error=error)
        log.info("push %s %s to partner %s will be retried in %.0fs: %s", message.method, message.path,
                 message.partner_pk, delay, error)
