"""Admin API for Payment Terminal Providers' terminals at our EVSEs (OCPI payments module): list,
assign our locations and EVSEs, ask for an activation or a deactivation; the payments made at
the terminals, their financial advice confirmations, our invoices."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from evroam.backoffice.auth import require_admin
from evroam.backoffice.openapi import ERRORS

router = APIRouter(prefix="/admin/api", tags=["admin: payment terminals"], dependencies=[Depends(require_admin)],
                   responses=ERRORS)


def _platform(request: Request):
    return request.app.state.platform


class AssignmentIn(BaseModel):
    location_ids: list[str] | None = Field(None, description="our locations (replace the terminal's; absent: kept)")
    evse_uids: list[str] | None = Field(None, description="our EVSE uids (replace the terminal's; absent: kept)")
    invoices: str | None = Field(None, description="CPO (we issue the invoices, at our invoice URL) or PTP")


class ActivationIn(BaseModel):
    partner: str = Field(description="the PTP partner's name")
    reference: str | None = Field(None, description="the PTP's reference of the terminal, e.g. its serial number")
    terminal_id: str | None = Field(None, description="a terminal the PTP deactivated")
    location_ids: list[str] | None = None
    evse_uids: list[str] | None = None
    address: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = Field(None, description="ISO 3166-1 alpha-3")


@router.get("/terminals", summary="Every PTP's terminals, and the activations asked of them")
async def terminals(request: Request):
    return await _platform(request).terminals.listing()


@router.put("/terminals/{terminal_id}/assignment",
            summary="Assign our locations and EVSEs to a terminal (a PATCH to its PTP; a PUT with `invoices`)")
async def assign(terminal_id: str, body: AssignmentIn, request: Request):
    service = _platform(request).terminals
    view = None
    if body.location_ids is not None or body.evse_uids is not None:
        view = await service.assign(terminal_id, location_ids=body.location_ids, evse_uids=body.evse_uids)
    if body.invoices is not None or view is None:
        view = await service.assign(terminal_id, invoices=body.invoices)
    return view


@router.post("/terminals/activations", status_code=201,
             summary="Ask a PTP to activate a terminal (it then creates the Terminal here)")
async def activate(body: ActivationIn, request: Request):
    details = {k: v for k, v in {"address": body.address, "city": body.city, "postal_code": body.postal_code,
                                 "country": body.country}.items() if v}
    return await _platform(request).terminals.activate(
        body.partner, reference=body.reference, terminal_id=body.terminal_id, location_ids=body.location_ids,
        evse_uids=body.evse_uids, details=details)


@router.post("/terminals/{terminal_id}/deactivate", summary="Ask the terminal's PTP to deactivate it")
async def deactivate(terminal_id: str, request: Request):
    return await _platform(request).terminals.deactivate(terminal_id)


@router.get("/terminal-payments", summary="Payments made at terminals, newest first, with their capture (FAC)")
async def payments(request: Request, limit: int = Query(100, ge=1, le=1000)):
    return await _platform(request).terminal_payments.listing(limit)


@router.get("/terminal-payments/{authorization_reference}/invoice",
            summary="Our invoice for a payment at a terminal: the CDR with VAT, the EFT data of the capture")
async def invoice(authorization_reference: str, request: Request):
    return await _platform(request).terminal_payments.invoice(authorization_reference)


@router.get("/financial-advice-confirmations", summary="FACs the PTPs sent, newest first, with what did not match")
async def confirmations(request: Request, limit: int = Query(100, ge=1, le=1000)):
    return await _platform(request).terminal_payments.confirmations(limit)
