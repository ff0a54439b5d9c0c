"""Payments module (OCPI 2.3.0), Receiver interface (we are the CPO): a Payment Terminal Provider
creates its Terminals here and posts its FinancialAdviceConfirmations.

    POST {payments}/terminals[/{terminal_id}]                       a Terminal (201 new, 200 again)
    GET  {payments}/terminals/{terminal_id}                         the Terminal as we hold it
    POST {payments}/financial-advice-confirmations[/{id}]           a FAC (201 new, 200 again)
    GET  {payments}/financial-advice-confirmations/{id}             the FAC

Only PTP partners may call it (403 otherwise: a partner whose credentials name the role PTP, or
OTHER with a payments Sender interface), and each reads and writes its own objects only: another
PTP's terminal or FAC is not found (404). A Terminal naming locations or EVSEs we did not assign
to it, or a FAC that is not one, is answered 2001 and changes nothing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from evroam.model.payments import FinancialAdviceConfirmation, Terminal
from evroam.ocpi.mappings import base
from evroam.ocpi.registry import PAYMENTS_PATHS, RECEIVER
from evroam.ocpi.server import Caller, authenticated, routing_headers
from evroam.ocpi.transport import headers as h
from evroam.ocpi.transport.envelope import ocpi_response
from evroam.ocpi.transport.errors import forbidden, invalid
from evroam.ocpi.transport.openapi import CREATED_OR_REPLACED, envelope_responses, json_body
from evroam.ocpi.wire import Wire, versioned
from evroam.services.objects import same_id
from evroam.services.terminals import terminal_view

router = APIRouter(prefix="/ocpi/{version}/cpo/payments", tags=["OCPI payments (CPO receiver)"],
                   dependencies=[Depends(versioned("payments", RECEIVER))],
                   responses=envelope_responses(200))
TERMINALS = PAYMENTS_PATHS["terminals"]
FACS = PAYMENTS_PATHS["financial_advice_confirmations"]


def _ptp(request: Request, caller: Caller) -> tuple[str, str]:
    """The PTP party of the request (its routing headers', else the partner's first PTP party);
    403 for a partner that is no PTP."""
    parties = caller.partner.ptp_parties()
    if not parties:
        raise forbidden("the payments module is for Payment Terminal Providers: your credentials name no PTP role "
                        "(PTP, or OTHER with a payments sender interface)")
    cc, pid = request.headers.get(h.FROM_COUNTRY), request.headers.get(h.FROM_PARTY)
    if cc and pid and (cc.upper(), pid.upper()) in parties:
        return cc.upper(), pid.upper()
    return parties[0]


def _same(path_id: str | None, body_id, field: str) -> None:
    if path_id is not None and (not isinstance(body_id, str) or not same_id(path_id, body_id)):
        raise invalid(f"{field}: {body_id!r} is not the {path_id!r} of the URL")


async def _post_terminal(request: Request, caller: Caller, terminal_id: str | None):
    party = _ptp(request, caller)
    wire = Wire.of(request)
    body = await wire.body(base.TERMINAL)
    if not isinstance(body, dict):
        raise invalid("Terminal: expected a JSON object")
    _same(terminal_id, body.get("terminal_id"), "terminal_id")
    terminal, created = await wire.platform.terminals.receive(caller.partner, party, body)
    return ocpi_response(await wire.out(base.TERMINAL, terminal), http_status=201 if created else 200,
                         headers=routing_headers(request, caller))


@router.post(TERMINALS, summary="A new terminal of the PTP (or the same again)", responses=CREATED_OR_REPLACED,
             openapi_extra=json_body("the Terminal", Terminal))
async def post_terminal(request: Request, caller: Caller = Depends(authenticated)):
    return await _post_terminal(request, caller, None)


@router.post(TERMINALS + "/{terminal_id}", summary="A new terminal of the PTP, its id in the URL too",
             responses=CREATED_OR_REPLACED, openapi_extra=json_body("the Terminal", Terminal))
async def post_terminal_at(terminal_id: str, request: Request, caller: Caller = Depends(authenticated)):
    return await _post_terminal(request, caller, terminal_id)


@router.get(TERMINALS + "/{terminal_id}", summary="One of the PTP's terminals as we hold it")
async def get_terminal(terminal_id: str, request: Request, caller: Caller = Depends(authenticated)):
    _ptp(request, caller)
    wire = Wire.of(request)
    record = await wire.platform.terminals.get(caller.partner, terminal_id)
    return ocpi_response(await wire.out(base.TERMINAL, terminal_view(record)), headers=routing_headers(request, caller))


async def _post_fac(request: Request, caller: Caller, fac_id: str | None):
    party = _ptp(request, caller)
    wire = Wire.of(request)
    body = await wire.body(base.FINANCIAL_ADVICE)
    if not isinstance(body, dict):
        raise invalid("FinancialAdviceConfirmation: expected a JSON object")
    _same(fac_id, body.get("id"), "id")
    fac, created = await wire.platform.terminal_payments.receive_fac(caller.partner, party, body)
    return ocpi_response(await wire.out(base.FINANCIAL_ADVICE, fac), http_status=201 if created else 200,
                         headers=routing_headers(request, caller))


@router.post(FACS, summary="A financial advice confirmation (what the PTP captured for a session)",
             responses=CREATED_OR_REPLACED,
             openapi_extra=json_body("the FinancialAdviceConfirmation", FinancialAdviceConfirmation))
async def post_fac(request: Request, caller: Caller = Depends(authenticated)):
    return await _post_fac(request, caller, None)


@router.post(FACS + "/{fac_id}", summary="A financial advice confirmation, its id in the URL too",
             responses=CREATED_OR_REPLACED,
             openapi_extra=json_body("the FinancialAdviceConfirmation", FinancialAdviceConfirmation))
async def post_fac_at(fac_id: str, request: Request, caller: Caller = Depends(authenticated)):
    return await _post_fac(request, caller, fac_id)


@router.get(FACS + "/{fac_id}", summary="One of the PTP's financial advice confirmations")
async def get_fac(fac_id: str, request: Request, caller: Caller = Depends(authenticated)):
    _ptp(request, caller)
    wire = Wire.of(request)
    record = await wire.platform.terminal_payments.fac(caller.partner, fac_id)
    return ocpi_response(await wire.out(base.FINANCIAL_ADVICE, record.data), headers=routing_headers(request, caller))
