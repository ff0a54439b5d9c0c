"""Payments drivers make at a Payment Terminal Provider's terminal on our EVSEs (OCPI 2.3.0
payments module), our side as the CPO.

1. The driver chooses the EVSE at the terminal; the PTP reads its tariff (ours, the ad-hoc one:
   AD_HOC_PAYMENT, see tariff_choice), pre-authorises the `preauthorize_amount` at its payment
   service provider, and sends us a START_SESSION with its own token and an
   `authorization_reference` (commands module). `open` accepts it only at an EVSE assigned to one
   of the PTP's active terminals, once per reference; the start is an ad-hoc one (priced with
   the ad-hoc tariff whatever the token's type) and, when we issue the invoices (the terminal's
   `invoice_creator` CPO), carries the number of the invoice: the CDR says it in
   `invoice_reference_id`.
2. The Session (PUT/PATCH) and the CDR (POST) go to the PTP, as to the eMSP of any token; both
   carry the `authorization_reference`.
3. The PTP captures at its payment service provider and, when the CDR carries an
   `invoice_reference_id`, POSTs a FinancialAdviceConfirmation (FAC): the amount captured and the
   EFT data our invoice must show. `receive_fac` links it to the payment (and so to the session
   and CDR) by its authorization_reference, among the PTP's own payments only, and checks the
   amount captured against the CDR's total (VAT included, to the cent) and the currency. What
   does not match is kept on the FAC (`checks`) and logged for an operator; the FAC is stored
   either way (it is the PTP's record of a capture that happened).
4. The invoice (`invoice`, at the terminal's invoice_base_url + "/" + authorization_reference)
   is made from the CDR with VAT, and shows the EFT data once the FAC is in."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from evroam.events import Bus
from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.partners import Partner
from evroam.model.payments import FinancialAdviceConfirmation, InvoiceCreator
from evroam.services.errors import Invalid, NotFound
from evroam.services.objects import validated
from evroam.services.receipts import receipt_of_cdr
from evroam.services.terminals import TerminalService, terminal_view
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.terminals import FacRecord, TerminalPayment, TerminalRecord

log = logging.getLogger(__name__)

STARTING, REFUSED, CHARGING, COMPLETED = "STARTING", "REFUSED", "CHARGING", "COMPLETED"
NOT_STARTED = "NOT_STARTED"  # the charger accepted the start but no transaction came
CAPTURED = {"SUCCESS": "CAPTURED", "PARTIAL_SUCCESS": "PARTIALLY_CAPTURED", "FAILED": "CAPTURE_FAILED"}
CENT = Decimal("0.01")


def _cents(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


class TerminalPayments:
    def __init__(self, store: Store, bus: Bus, settings: Settings, terminals: TerminalService) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.terminals = terminals
        bus.subscribe("session.started", self._session_started, everywhere=True)
        bus.subscribe("session.completed", self._session_completed, everywhere=True)

    @property
    def owner(self) -> tuple[str, str]:
        return self.settings.country_code, self.settings.party_id

    # ------------------------------------------------------------------ the start

    async def check(self, partner: Partner, *, location_id: str, evse_uid: str,
                    authorization_reference: str | None) -> TerminalRecord:
        """The PTP's active terminal that a START_SESSION at this EVSE is paid at; Invalid, with
        the reason the CommandResponse gives, when the PTP cannot start here."""
        if not authorization_reference:
            raise Invalid("authorization_reference is required: it links the payment at your terminal to the "
                          "session, its CDR and your financial advice confirmation")
        terminal = await self.terminals.covering(partner, location_id, evse_uid)
        if terminal is None:
            raise Invalid(f"EVSE {evse_uid!r} of location {location_id!r} is not assigned to an active terminal "
                          "of yours")
        async with self.store.connect() as conn:
            if await self.store.terminal_payments.by_reference(conn, partner.pk, authorization_reference):
                raise Invalid(f"authorization_reference {authorization_reference!r} was used before: one per payment")
        return terminal

    async def open(self, partner: Partner, terminal: TerminalRecord, *, location_id: str, evse_uid: str,
                   authorization_reference: str) -> tuple[TerminalPayment, dict[str, Any]]:
        """The payment of an accepted START_SESSION (see `check`), and what its remote start
        carries (`ad_hoc`, `invoice_reference_id`). Invalid when the reference was used meanwhile."""
        creator = terminal_view(terminal).get("invoice_creator")
        async with self.store.begin() as conn:
            if await self.store.terminal_payments.by_reference(conn, partner.pk, authorization_reference):
                raise Invalid(f"authorization_reference {authorization_reference!r} was used before: one per payment")
            payment = await self.store.terminal_payments.add(
                conn, partner_pk=partner.pk, terminal_pk=terminal.pk, authorization_reference=authorization_reference,
                location_id=location_id, evse_uid=evse_uid, invoice_reference_id=None, status=STARTING)
            if creator == InvoiceCreator.CPO.value:
                payment.invoice_reference_id = f"PT-{payment.pk:08d}"
                await self.store.terminal_payments.set(conn, payment.pk,
                                                       invoice_reference_id=payment.invoice_reference_id)
        log.info("payment %s at terminal %s of %s: starting at %s/%s", authorization_reference,
                 terminal.terminal_id, partner.name, location_id, evse_uid)
        data: dict[str, Any] = {"ad_hoc": True, "terminal_payment_pk": payment.pk}
        if payment.invoice_reference_id:
            data["invoice_reference_id"] = payment.invoice_reference_id
        return payment, data

    async def refused(self, conn, pk: int) -> None:
        """The charger did not start (within `conn`): the payment ends without a session."""
        await self.store.terminal_payments.set(conn, pk, only_statuses=(STARTING,), status=REFUSED)

    # ------------------------------------------------------------------ the session

    async def _session_started(self, event) -> None:
        """The session of a payment's start (its transaction carries the payment, from the remote
        start it was paired with)."""
        session_id = event.data.get("session_id")
        if not session_id:
            return
        async with self.store.connect() as conn:
            tx = await self.store.transactions.by_session(conn, session_id)
        pk = (tx.state.get("terminal_payment_pk") if tx is not None else None)
        if pk is None:
            return
        async with self.store.begin() as conn:
            await self.store.terminal_payments.set(conn, pk, only_statuses=(STARTING,), status=CHARGING,
                                                   session_id=session_id)

    async def _session_completed(self, event) -> None:
        session_id = event.data.get("session_id")
        if not session_id:
            return
        async with self.store.begin() as conn:
            payment = await self.store.terminal_payments.by_session(conn, session_id)
            if payment is not None:
                await self.store.terminal_payments.set(conn, payment.pk, only_statuses=(CHARGING,), status=COMPLETED)

    async def sweep(self) -> int:
        """What events left undone (a node died, an event was lost): payments still STARTING once
        the charger had time to start are linked to their transaction, or end NOT_STARTED (visible
        to the operator; no session, nothing to bill); those still CHARGING after their session
        completed are COMPLETED. The number changed."""
        grace = timedelta(seconds=self.settings.payment_start_seconds + self.settings.command_timeout)
        changed = 0
        async with self.store.connect() as conn:
            starting = await self.store.terminal_payments.in_status(conn, (STARTING,), utcnow() - grace)
            charging = await self.store.terminal_payments.in_status(conn, (CHARGING,), utcnow() - grace)
        for payment in starting:
            async with self.store.begin() as conn:
                tx = await self.store.transactions.of_terminal_payment(conn, payment.pk)
                if tx is not None and tx.session_id:
                    changed += await self.store.terminal_payments.set(
                        conn, payment.pk, only_statuses=(STARTING,), status=CHARGING, session_id=tx.session_id)
                elif tx is None:
                    if await self.store.terminal_payments.set(conn, payment.pk, only_statuses=(STARTING,),
                                                              status=NOT_STARTED):
                        changed += 1
                        log.warning("payment %s at a terminal: the charger never started; no session, nothing "
                                    "to bill", payment.authorization_reference)
        for payment in charging:
            async with self.store.begin() as conn:
                tx = await self.store.transactions.by_session(conn, payment.session_id) if payment.session_id \
                    else None
                if tx is not None and tx.status == "COMPLETED":
                    changed += await self.store.terminal_payments.set(conn, payment.pk, only_statuses=(CHARGING,),
                                                                      status=COMPLETED)
        return changed

    # ------------------------------------------------------------------ financial advice confirmations

    async def receive_fac(self, partner: Partner, party: tuple[str, str], body: dict[str, Any]) -> tuple[dict, bool]:
        """A FAC the PTP POSTs: (the FAC, created). Linked to the PTP's payment of the same
        authorization_reference; checked against the CDR."""
        if not partner.is_ptp:
            raise Invalid("financial advice confirmations are sent by Payment Terminal Providers only")
        fac = validated(FinancialAdviceConfirmation, body).to_dict()
        cc, pid = self.owner
        async with self.store.begin() as conn:
            payment = await self.store.terminal_payments.by_reference(conn, partner.pk, fac["authorization_reference"])
            cdr = None
            if payment is not None and payment.session_id:
                cdr = await self.store.cdrs.get(conn, cc, pid, payment.session_id)
            checks = _checks(fac, payment, cdr)
            record, created = await self.store.financial_advice.put(
                conn, partner_pk=partner.pk, country_code=party[0], party_id=party[1], fac=fac,
                session_id=payment.session_id if payment else None, checks=checks,
                last_updated=parse_datetime(fac["last_updated"]))
            if payment is not None:
                await self.store.terminal_payments.set(conn, payment.pk, status=CAPTURED[fac["capture_status_code"]])
        if checks:
            log.warning("financial advice confirmation %s of %s (%s): %s", fac["id"], partner.name,
                        fac["authorization_reference"], "; ".join(checks.values()))
        self.bus.publish("financial_advice.received", id=fac["id"], partner_pk=partner.pk,
                         authorization_reference=fac["authorization_reference"], session_id=record.session_id,
                         capture_status_code=fac["capture_status_code"])
        return record.data, created

    async def fac(self, partner: Partner | None, fac_id: str) -> FacRecord:
        async with self.store.connect() as conn:
            record = await self.store.financial_advice.get(conn, partner.pk if partner else None, fac_id)
        if record is None:
            raise NotFound(f"financial advice confirmation {fac_id!r} not found", kind="financial advice confirmation")
        return record

    # ------------------------------------------------------------------ operators

    async def listing(self, limit: int = 100) -> list[dict[str, Any]]:
        """Payments at terminals, newest first, each with its FACs' outcome."""
        async with self.store.connect() as conn:
            payments = await self.store.terminal_payments.listing(conn, limit=limit)
            partners = {p.pk: p.name for p in await self.store.partners.list(conn)}
            out = []
            for p in payments:
                facs = await self.store.financial_advice.by_reference(conn, p.partner_pk, p.authorization_reference)
                out.append({"authorization_reference": p.authorization_reference, "partner": partners.get(p.partner_pk),
                            "location_id": p.location_id, "evse_uid": p.evse_uid, "status": p.status,
                            "session_id": p.session_id, "invoice_reference_id": p.invoice_reference_id,
                            "financial_advice": [_fac_view(f) for f in facs],
                            "created_at": format_datetime(p.created_at)})
        return out

    async def confirmations(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self.store.connect() as conn:
            records = await self.store.financial_advice.listing(conn, limit=limit)
            partners = {p.pk: p.name for p in await self.store.partners.list(conn)}
        return [{**_fac_view(r), "partner": partners.get(r.partner_pk)} for r in records]

    async def invoice(self, authorization_reference: str) -> dict[str, Any]:
        """Our invoice for a payment at a terminal whose invoices we issue: the CDR with VAT, and
        the EFT data of the PTP's successful capture once its FAC is in."""
        cc, pid = self.owner
        async with self.store.connect() as conn:
            payment = await self.store.terminal_payments.by_reference(conn, None, authorization_reference)
            if payment is None or not payment.invoice_reference_id or not payment.session_id:
                raise NotFound("no invoice for this payment", kind="invoice")
            cdr = await self.store.cdrs.get(conn, cc, pid, payment.session_id)
            facs = await self.store.financial_advice.by_reference(conn, payment.partner_pk, authorization_reference)
        if cdr is None:
            raise NotFound("no invoice yet: the session has not ended", kind="invoice")
        out = receipt_of_cdr(cdr, self.settings, number=payment.invoice_reference_id,
                             reference=payment.authorization_reference)
        captured = [f for f in facs if f.capture_status_code in ("SUCCESS", "PARTIAL_SUCCESS")]
        if captured:
            fac = captured[-1]
            out["paid"] = str(_cents(fac.data["total_costs"].get("incl_vat", fac.data["total_costs"]["excl_vat"])))
            out["eft_data"] = fac.data.get("eft_data") or []
            out["capture_status"] = fac.capture_status_code
        return out


def _fac_view(record: FacRecord) -> dict[str, Any]:
    return {"id": record.id, "authorization_reference": record.authorization_reference,
            "session_id": record.session_id, "capture_status_code": record.capture_status_code,
            "total_costs": record.data.get("total_costs"), "currency": record.data.get("currency"),
            "eft_data": record.data.get("eft_data") or [], "checks": record.checks,
            "last_updated": format_datetime(record.last_updated) if record.last_updated else None}


def _checks(fac: dict[str, Any], payment: TerminalPayment | None, cdr: dict[str, Any] | None) -> dict[str, str]:
    """What does not match between a FAC and the payment it confirms (empty: everything does)."""
    if payment is None:
        return {"payment": f"no payment at your terminals has authorization_reference "
                           f"{fac['authorization_reference']!r}"}
    if cdr is None:
        return {"cdr": "the session has no CDR yet"}
    checks: dict[str, str] = {}
    if fac["currency"].upper() != cdr["currency"].upper():
        checks["currency"] = f"captured in {fac['currency']}, the CDR is in {cdr['currency']}"
    total = cdr.get("total_cost") or {}
    due = _cents(total.get("incl_vat", total.get("excl_vat", 0)))
    costs = fac["total_costs"]
    captured = _cents(costs.get("incl_vat", costs["excl_vat"]))
    if fac["capture_status_code"] == "SUCCESS" and captured != due:
        checks["amount"] = f"captured {captured} {fac['currency']}, the CDR's total is {due} {cdr['currency']}"
    if fac["capture_status_code"] == "PARTIAL_SUCCESS":
        checks["amount"] = f"partly captured: {captured} of {due} {cdr['currency']}"
    if fac["capture_status_code"] == "FAILED":
        checks["capture"] = f"the capture failed: {fac.get('capture_status_message') or 'no reason given'}"
    return checks
