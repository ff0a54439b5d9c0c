"""Payment terminals of Payment Terminal Providers (OCPI 2.3.0 payments module), our side as the
CPO.

A PTP owns its terminals and creates them here (POST at our payments Receiver interface); a
terminal it ships to us carries no locations: which of our locations and EVSEs a terminal takes
payments for is ours to say. We assign them (`assign`: a PATCH of `location_ids`/`evse_uids` to
the PTP's Terminal, or a PUT of the whole Terminal when we also say who issues the invoices), ask
the PTP to activate a terminal built into a charger (`activate`: POST .../terminals/activate with
the PTP's `reference`, e.g. its serial number; the PTP then creates the Terminal here, and it
takes the assignment of the activation) or to deactivate one (`deactivate`). Every push goes
through the outbox in the transaction that changes the terminal.

The terminal as we hold it is the PTP's Terminal with what we set over it (`cpo`: the assignment,
and `invoice_creator`/`invoice_base_url` when we said them). A PTP's POST may repeat our
assignment, or part of it; naming a location or EVSE we did not assign is refused (2001): a PTP
cannot enable payment at our chargers by itself. A PTP reads and writes only its own terminals:
another PTP's terminal does not exist for it."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from evroam.events import Bus
from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.partners import Partner
from evroam.model.payments import InvoiceCreator, Terminal, TerminalActivation
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import same_id, validated
from evroam.services.ports import PartnerPushes
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.terminals import TerminalRecord

log = logging.getLogger(__name__)

REQUESTED, ACTIVE, DEACTIVATED = "ACTIVATION_REQUESTED", "ACTIVE", "DEACTIVATED"
#: what we set over a PTP's Terminal
CPO_FIELDS = ("location_ids", "evse_uids", "invoice_creator", "invoice_base_url")
#: where our invoices for payments at terminals are (the Terminal's invoice_base_url; the
#: authorization_reference of the payment follows it)
INVOICES_PATH = "/terminal-invoices"


def _seg(value: str) -> str:
    return quote(value, safe="")


def terminal_view(record: TerminalRecord) -> dict[str, Any]:
    """The Terminal as we hold it: the PTP's, with what we set over it."""
    data = record.data
    out = {**data.get("terminal", {}), **{k: v for k, v in (data.get("cpo") or {}).items() if v is not None}}
    out["last_updated"] = format_datetime(record.last_updated)
    return out


class TerminalService:
    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: PartnerPushes) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.pushes = pushes

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    @property
    def invoice_base_url(self) -> str:
        return self.settings.base_url + INVOICES_PATH

    # ------------------------------------------------------------------ the PTP's side

    async def receive(self, partner: Partner, party: tuple[str, str], body: dict[str, Any]) -> tuple[dict, bool]:
        """A Terminal the PTP creates (or sends again) at our Receiver interface: (the Terminal as
        we hold it, created). Invalid (nothing stored) when it names locations or EVSEs we did not
        assign to it."""
        if not partner.is_ptp:
            raise Invalid("terminals are created by Payment Terminal Providers only")
        body = dict(body)
        body.setdefault("last_updated", format_datetime(utcnow()))  # a newly shipped terminal may say only its id
        terminal = validated(Terminal, body).to_dict()
        cpo_party = (str(terminal.get("country_code", "")).upper(), str(terminal.get("party_id", "")).upper())
        if all(cpo_party) and cpo_party != self.owner:
            raise Invalid(f"country_code/party_id: this terminal is for {cpo_party[0]}/{cpo_party[1]}, not for us "
                          f"({self.owner[0]}/{self.owner[1]})")
        async with self.store.begin() as conn:
            record = await self.store.terminals.find(conn, partner.pk, terminal["terminal_id"])
            created = record is None
            if record is None and terminal.get("reference"):
                record = await self.store.terminals.requested(conn, partner.pk, terminal["reference"])
            cpo = dict((record.data.get("cpo") or {}) if record is not None else {})
            self._check_assignment(terminal, cpo)
            data = {"terminal": {k: v for k, v in terminal.items() if k not in ("location_ids", "evse_uids")},
                    "cpo": {"location_ids": cpo.get("location_ids") or [], "evse_uids": cpo.get("evse_uids") or [],
                            **{k: cpo[k] for k in ("invoice_creator", "invoice_base_url") if cpo.get(k)}}}
            said = parse_datetime(terminal["last_updated"])
            last = said if record is None else max(said, record.last_updated)
            if record is None:
                record = await self.store.terminals.add(
                    conn, partner_pk=partner.pk, country_code=party[0], party_id=party[1],
                    terminal_id=terminal["terminal_id"], reference=terminal.get("reference"), status=ACTIVE,
                    data=data, last_updated=last)
            else:
                status = ACTIVE if record.status == REQUESTED else record.status
                await self.store.terminals.update(conn, record.pk, terminal_id=terminal["terminal_id"],
                                                  reference=terminal.get("reference") or record.reference,
                                                  status=status, data=data, last_updated=last)
                record = await self.store.terminals.get(conn, record.pk)
        log.info("terminal %s of %s %s (%s)", terminal["terminal_id"], partner.name,
                 "created" if created else "updated", record.status)
        self._changed(record)
        return terminal_view(record), created

    @staticmethod
    def _check_assignment(terminal: dict[str, Any], cpo: dict[str, Any]) -> None:
        for key, what in (("location_ids", "locations"), ("evse_uids", "EVSEs")):
            ours = {i.casefold() for i in cpo.get(key) or []}
            named = [i for i in terminal.get(key) or [] if i.casefold() not in ours]
            if named:
                raise Invalid(f"{key}: {', '.join(named)} not assigned to this terminal; the CPO assigns its "
                              f"{what} to a terminal (assigned now: {', '.join(cpo.get(key) or []) or 'none'})")

    async def get(self, partner: Partner | None, terminal_id: str) -> TerminalRecord:
        """One terminal, of the partner (None: of any PTP, for our operators)."""
        async with self.store.connect() as conn:
            record = await self.store.terminals.find(conn, partner.pk if partner else None, terminal_id)
        if record is None:
            raise NotFound(f"terminal {terminal_id!r} not found", kind="terminal")
        return record

    async def of_partner(self, partner: Partner, *, offset: int = 0, limit: int | None = None) -> list[dict]:
        async with self.store.connect() as conn:
            records = await self.store.terminals.listing(conn, partner_pk=partner.pk, offset=offset, limit=limit)
        return [terminal_view(r) for r in records if r.terminal_id]

    async def covering(self, partner: Partner, location_id: str, evse_uid: str | None) -> TerminalRecord | None:
        """The partner's active terminal that takes payments at this EVSE (or location)."""
        async with self.store.connect() as conn:
            records = await self.store.terminals.listing(conn, partner_pk=partner.pk, active=True)
        cpo_view = [(r, (r.data.get("cpo") or {})) for r in records]
        for record, cpo in cpo_view:
            evses = {i.casefold() for i in cpo.get("evse_uids") or []}
            if evse_uid is not None and evse_uid.casefold() in evses:
                return record
        for record, cpo in cpo_view:
            if location_id.casefold() in {i.casefold() for i in cpo.get("location_ids") or []}:
                return record
        return None

    # ------------------------------------------------------------------ our operators

    async def listing(self) -> list[dict[str, Any]]:
        """Every PTP's terminals and the activations asked of them (operators)."""
        async with self.store.connect() as conn:
            records = await self.store.terminals.listing(conn)
            partners = {p.pk: p.name for p in await self.store.partners.list(conn)}
        return [self.view(r, partners.get(r.partner_pk)) for r in records]

    @staticmethod
    def view(record: TerminalRecord, partner_name: str | None = None) -> dict[str, Any]:
        terminal = terminal_view(record)
        return {"terminal_id": record.terminal_id, "partner": partner_name,
                "party": f"{record.country_code}/{record.party_id}", "status": record.status,
                "reference": record.reference, "location_ids": terminal.get("location_ids") or [],
                "evse_uids": terminal.get("evse_uids") or [], "invoice_creator": terminal.get("invoice_creator"),
                "terminal": terminal}

    async def assign(self, terminal_id: str, *, location_ids: list[str] | None = None,
                     evse_uids: list[str] | None = None, invoices: str | None = None) -> dict[str, Any]:
        """Assign our locations and EVSEs to a terminal (the lists replace the assignment; None
        keeps that part), pushed to its PTP as a PATCH; with `invoices` (CPO: we issue the invoices,
        at our invoice URL; PTP: the PTP does), the whole Terminal as a PUT."""
        record = await self.get(None, terminal_id)
        cpo = dict(record.data.get("cpo") or {})
        if location_ids is not None:
            cpo["location_ids"] = await self._our_locations(location_ids)
        if evse_uids is not None:
            cpo["evse_uids"] = await self._our_evses(evse_uids)
        if invoices is not None:
            creator = _creator(invoices)
            cpo["invoice_creator"] = creator
            cpo["invoice_base_url"] = self.invoice_base_url if creator == InvoiceCreator.CPO.value else None
        now = utcnow()
        async with self.store.begin() as conn:
            partner = await self._partner(conn, record)
            data = {**record.data, "cpo": {k: v for k, v in cpo.items() if v is not None}}
            await self.store.terminals.update(conn, record.pk, data=data, last_updated=now)
            record = await self.store.terminals.get(conn, record.pk)
            path = f"/terminals/{_seg(record.terminal_id)}"
            if invoices is None:
                body = {"location_ids": cpo.get("location_ids") or [], "evse_uids": cpo.get("evse_uids") or [],
                        "last_updated": format_datetime(now)}
                await self.pushes.terminal_push(conn, partner, "PATCH", path, body, object_key=_key(record))
            else:
                await self.pushes.terminal_push(conn, partner, "PUT", path, terminal_view(record),
                                                object_key=_key(record))
        self._changed(record)
        return self.view(record, partner.name)

    async def activate(self, partner_name: str, *, reference: str | None = None, terminal_id: str | None = None,
                       location_ids: list[str] | None = None, evse_uids: list[str] | None = None,
                       details: dict[str, Any] | None = None) -> dict[str, Any]:
        """Ask a PTP to activate a terminal: a new one by its `reference` (e.g. the serial number of
        a terminal built into a charger), to be assigned the given locations and EVSEs, or one it
        deactivated (`terminal_id`). The PTP answers by creating the Terminal here."""
        if not reference and not terminal_id:
            raise Invalid("give the terminal's reference (e.g. its serial number) or the terminal_id of one "
                          "deactivated")
        async with self.store.connect() as conn:
            partner = await self.store.partners.by_name(conn, partner_name)
        if partner is None or not partner.registered or not partner.is_ptp:
            raise NotFound(f"no registered Payment Terminal Provider partner named {partner_name!r}", kind="partner")
        cpo = {"location_ids": await self._our_locations(location_ids or []),
               "evse_uids": await self._our_evses(evse_uids or [])}
        now = utcnow()
        async with self.store.begin() as conn:
            record = await self.store.terminals.find(conn, partner.pk, terminal_id) if terminal_id else None
            if terminal_id and record is None:
                raise NotFound(f"terminal {terminal_id!r} of {partner_name} not found", kind="terminal")
            if record is not None:
                if location_ids is None and evse_uids is None:
                    cpo = {**(record.data.get("cpo") or {})}
                data = {**record.data, "cpo": {**(record.data.get("cpo") or {}), **cpo}}
                await self.store.terminals.update(conn, record.pk, status=REQUESTED, data=data, last_updated=now)
            else:
                party = partner.ptp_parties()[0]
                terminal = {**(details or {}), "reference": reference}
                record = await self.store.terminals.add(
                    conn, partner_pk=partner.pk, country_code=party[0], party_id=party[1], terminal_id=None,
                    reference=reference, status=REQUESTED, data={"terminal": terminal, "cpo": cpo}, last_updated=now)
            record = await self.store.terminals.get(conn, record.pk)
            body = {k: v for k, v in terminal_view(record).items() if v not in (None, [])}
            body = validated(TerminalActivation, {**body, "last_updated": format_datetime(now)}).to_dict()
            await self.pushes.terminal_push(conn, partner, "POST", "/terminals/activate", body,
                                            object_key=_key(record))
        self._changed(record)
        return self.view(record, partner.name)

    async def deactivate(self, terminal_id: str) -> dict[str, Any]:
        """Ask the terminal's PTP to deactivate it (broken, moved); it takes no payments from now."""
        record = await self.get(None, terminal_id)
        async with self.store.begin() as conn:
            partner = await self._partner(conn, record)
            await self.store.terminals.update(conn, record.pk, status=DEACTIVATED, last_updated=utcnow())
            await self.pushes.terminal_push(conn, partner, "POST", f"/terminals/{_seg(record.terminal_id)}/deactivate",
                                            None, object_key=_key(record))
            record = await self.store.terminals.get(conn, record.pk)
        self._changed(record)
        return self.view(record, partner.name)

    # ------------------------------------------------------------------ helpers

    async def _partner(self, conn, record: TerminalRecord) -> Partner:
        partner = await self.store.partners.get(conn, record.partner_pk)
        if partner is None or not partner.registered:
            raise Invalid(f"the PTP of terminal {record.terminal_id!r} is not registered any more")
        return partner

    async def _our_locations(self, ids: list[str]) -> list[str]:
        cc, pid = self.owner
        out = []
        async with self.store.connect() as conn:
            for location_id in ids:
                loc = await self.store.locations.get(conn, cc, pid, location_id)
                if loc is None:
                    raise NotFound(f"location {location_id!r} is not one of ours", kind="location")
                out.append(loc["id"])
        return list(dict.fromkeys(out))

    async def _our_evses(self, uids: list[str]) -> list[str]:
        cc, pid = self.owner
        async with self.store.connect() as conn:
            evses = [e for loc in await self.store.locations.all(conn, owners=[(cc, pid)])
                     for e in loc.get("evses") or [] if e.get("status") != "REMOVED"]
        out = []
        for uid in uids:
            found = next((e["uid"] for e in evses if same_id(e["uid"], uid)), None)
            if found is None:
                raise NotFound(f"EVSE {uid!r} is not one of ours", kind="location")
            out.append(found)
        return list(dict.fromkeys(out))

    def _changed(self, record: TerminalRecord) -> None:
        self.bus.publish("terminal.changed", terminal_id=record.terminal_id, status=record.status,
                         partner_pk=record.partner_pk)


def _key(record: TerminalRecord) -> str:
    return f"payments:terminal:{record.pk}"


def _creator(value: str) -> str:
    try:
        return InvoiceCreator(value.upper()).value
    except ValueError:
        raise Invalid(f"invoices: {value!r} is not CPO or PTP") from None
