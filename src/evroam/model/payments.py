"""The OCPI 2.3.0 payments module's objects: a payment Terminal (owned by the Payment Terminal
Provider, its locations and EVSEs assigned by the CPO) and a FinancialAdviceConfirmation (what the
PTP captured for a session at its payment service provider, with the EFT data an invoice must
show). The 2.3.0 form is the model's form, except a FAC's `total_costs`, a Price as every cost
of the model (see mappings/v2_3_0/payments.py). No other version has them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from evroam.model.common import URL, CiString, DateTime, GeoLocation, OcpiModel, Price, String

__all__ = ["CaptureStatusCode", "FinancialAdviceConfirmation", "InvoiceCreator", "Terminal", "TerminalActivation"]


class InvoiceCreator(StrEnum):
    CPO = "CPO"  # the CPO issues the invoice: at invoice_base_url + "/" + authorization_reference
    PTP = "PTP"  # the PTP issues it, shown by the payment terminal


class CaptureStatusCode(StrEnum):
    SUCCESS = "SUCCESS"
    PARTIAL_SUCCESS = "PARTIAL_SUCCESS"
    FAILED = "FAILED"


Id = CiString(36)


class TerminalActivation(OcpiModel):
    """A Terminal as the CPO sends it to activate one (`terminal_id` is set by the PTP later)."""

    terminal_id: Id | None = None
    customer_reference: Id | None = None
    party_id: CiString(3) | None = None
    country_code: CiString(2) | None = None
    # the spec says CiString for these; addresses are not ASCII everywhere (Wien, Straße): any text
    address: String(45) | None = None
    city: String(45) | None = None
    postal_code: String(10) | None = None
    state: String(20) | None = None
    country: CiString(3) | None = None
    coordinates: GeoLocation | None = None
    invoice_base_url: URL | None = None
    invoice_creator: InvoiceCreator | None = None
    reference: Id | None = None  # the PTP's mapping value, e.g. the terminal's serial number
    location_ids: list[Id] | None = None
    evse_uids: list[Id] | None = None
    last_updated: DateTime | None = None


class Terminal(TerminalActivation):
    terminal_id: Id
    last_updated: DateTime


class FinancialAdviceConfirmation(OcpiModel):
    id: Id
    authorization_reference: Id
    total_costs: Price  # what was captured, VAT included
    currency: CiString(3)
    # required (+) by the object's table; the specification's own example of a failed capture
    # has none, and a failed capture has no EFT data to give: required unless FAILED
    eft_data: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = None
    capture_status_code: CaptureStatusCode
    capture_status_message: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _eft_data(self) -> FinancialAdviceConfirmation:
        if self.capture_status_code != CaptureStatusCode.FAILED and not self.eft_data:
            raise ValueError("eft_data: at least one line is required for a capture that did not fail")
        return self
