"""The payments module's objects (OCPI 2.3.0 only): every `payment_*` example of the 2.3.0 text
(both editions) goes through the 2.3.0 mapping into the model, validates as its object, and back
out equal to the example (a FAC's `total_costs`, which the examples give as a 2.2.1 Price, said
as the 2.3.0 Price the object's table names); no other version can say them; and our Receiver
interface reads the examples a PTP would POST."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from evroam.model.common import field_errors
from evroam.model.payments import FinancialAdviceConfirmation, Terminal, TerminalActivation
from evroam.ocpi import registry
from evroam.ocpi.mappings import CannotSay, Context, base
from harness import auth, example_dir, httpx

V230 = registry.get("2.3.0").mapping
# file -> (kind, model of the whole object, or None for a partial one)
PAYMENTS_230: dict[str, tuple[str, type | None]] = {
    "payment_financial_advice_confirmation_create.json": (base.FINANCIAL_ADVICE, FinancialAdviceConfirmation),
    "payment_financial_advice_confirmation_example_failure.json": (base.FINANCIAL_ADVICE, FinancialAdviceConfirmation),
    "payment_financial_advice_confirmation_example_success.json": (base.FINANCIAL_ADVICE, FinancialAdviceConfirmation),
    "payment_terminal_activate.json": (base.TERMINAL, TerminalActivation),
    "payment_terminal_create.json": (base.TERMINAL, Terminal),
    # what a PTP POSTs for a terminal of which it knows only the id: the receiver dates it
    "payment_terminal_create_minimal.json": (base.TERMINAL, TerminalActivation),
    "payment_terminal_example_assigned_locations.json": (base.TERMINAL, Terminal),
    "payment_terminal_example_assigned_locations_assigned_evses.json": (base.TERMINAL, Terminal),
    "payment_terminal_example_newly_created.json": (base.TERMINAL, Terminal),
    "payment_terminal_location_assignment.json": (base.TERMINAL_PATCH, None),
    "payment_terminal_put_update.json": (base.TERMINAL_PATCH, None),  # a PUT's example, partial as a PATCH
}


def fac_price(price: dict[str, Any]) -> dict[str, Any]:
    """A 2.2.1 Price as the 2.3.0 Price says it: one tax, VAT, of incl. - excl."""
    return {"before_taxes": price["excl_vat"],
            "taxes": [{"name": "VAT", "amount": round(price["incl_vat"] - price["excl_vat"], 4)}]}


def _load(version: str, name: str) -> Any:
    return json.loads((example_dir(version) / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("version", ["2.3.0", "2.3.0-ed2"])
async def test_every_payments_example_round_trips(version):
    names = sorted(p.name for p in example_dir(version).glob("payment_*.json"))
    assert names == sorted(PAYMENTS_230)  # every example is accounted for
    for name in names:
        kind, model = PAYMENTS_230[name]
        original = _load(version, name)
        inside = await V230.inbound(kind, original, Context())
        if model is not None:
            assert model.model_validate(inside).to_dict() == inside, name  # the model says it whole
        back = await V230.outbound(kind, inside, Context())
        expected = original
        if kind == base.FINANCIAL_ADVICE:
            expected = {**original, "total_costs": fac_price(original["total_costs"])}
        assert back == expected, name
        # and the 2.3.0 form goes in again as the same model object
        assert await V230.inbound(kind, back, Context()) == inside, name


async def test_fac_prices_in_the_2_3_0_form_and_the_model():
    fac = _load("2.3.0", "payment_financial_advice_confirmation_example_success.json")
    said = {**fac, "total_costs": {"before_taxes": 4.0, "taxes": [{"name": "VAT", "percentage": 10.0,
                                                                   "amount": 0.4}]}}
    inside = await V230.inbound(base.FINANCIAL_ADVICE, said)
    # a tax with its rate is kept; incl_vat is what was captured
    assert inside["total_costs"] == {"excl_vat": 4.0, "incl_vat": 4.4, "taxes": said["total_costs"]["taxes"]}
    assert FinancialAdviceConfirmation.model_validate(inside).total_costs.incl_vat == 4.4
    assert await V230.outbound(base.FINANCIAL_ADVICE, inside) == said


def test_what_the_objects_require():
    fac = _load("2.3.0", "payment_financial_advice_confirmation_example_success.json")
    # eft_data is required (+) for a capture that did not fail; the failure example has none
    with pytest.raises(ValidationError) as exc:
        FinancialAdviceConfirmation.model_validate({**fac, "eft_data": []})
    assert "eft_data: at least one line is required" in field_errors(exc.value)[0]
    assert FinancialAdviceConfirmation.model_validate(
        _load("2.3.0", "payment_financial_advice_confirmation_example_failure.json")).eft_data is None
    with pytest.raises(ValidationError) as exc:
        Terminal.model_validate({"terminal_id": "T" * 37, "last_updated": "2025-01-01T00:00:00Z",
                                 "invoice_creator": "EMSP"})
    assert sorted(e.split(":")[0] for e in field_errors(exc.value)) == ["invoice_creator", "terminal_id"]
    # a terminal in Vienna has its address in German: any text (the spec's CiString is ASCII only)
    assert Terminal.model_validate({"terminal_id": "T1", "address": "Mariahilfer Straße 1", "city": "Wien",
                                    "last_updated": "2025-01-01T00:00:00Z"}).address == "Mariahilfer Straße 1"


@pytest.mark.parametrize("version", ["2.2.1", "2.1.1"])
async def test_other_versions_cannot_say_the_payments_objects(version):
    mapping = registry.get(version).mapping
    terminal = _load("2.3.0", "payment_terminal_create.json")
    fac = await V230.inbound(base.FINANCIAL_ADVICE, _load("2.3.0", "payment_financial_advice_confirmation_create.json"))
    for kind, doc in ((base.TERMINAL, terminal), (base.TERMINAL_PATCH, {"location_ids": []}),
                      (base.FINANCIAL_ADVICE, fac)):
        with pytest.raises(CannotSay, match=f"OCPI {version} has no payments module"):
            await mapping.outbound(kind, doc)
        with pytest.raises(CannotSay):
            await mapping.inbound(kind, doc)
    assert registry.get(version).interface("payments", "RECEIVER") is None


# ------------------------------------------------------------------ our Receiver interface


async def test_the_receiver_reads_what_a_ptp_posts(make_instance):
    cpo = await make_instance("cpo", roles=("CPO",))
    await cpo.add_partner("ptp", "ptp-token", [("PTP", "NL", "PAY")], version="2.3.0", endpoints=[
        {"identifier": "payments", "role": "SENDER", "url": "http://127.0.0.1:9/ptp/payments"}])
    await cpo.add_partner("other", "other-token", [("OTHER", "NL", "OTH")], version="2.3.0")  # no payments: no PTP
    url = f"{cpo.url}/ocpi/2.3.0/cpo/payments"
    async with httpx.AsyncClient(headers=auth("ptp-token")) as http:
        # the minimal example: only its id; dated when received
        minimal = _load("2.3.0", "payment_terminal_create_minimal.json")
        r = await http.post(f"{url}/terminals/{minimal['terminal_id']}", json=minimal)
        assert r.status_code == 201 and r.json()["status_code"] == 1000
        data = r.json()["data"]
        assert data["terminal_id"] == minimal["terminal_id"] and data["location_ids"] == data["evse_uids"] == []
        assert data["last_updated"].endswith("Z")
        # a FAC example, read in its 2.2.1 Price and answered in the 2.3.0 form
        fac = _load("2.3.0-ed2", "payment_financial_advice_confirmation_create.json")
        r = await http.post(f"{url}/financial-advice-confirmations", json=fac)
        assert r.status_code == 201 and r.json()["data"]["total_costs"] == fac_price(fac["total_costs"])
        r = await http.get(f"{url}/financial-advice-confirmations/{fac['id'].upper()}")
        assert r.status_code == 200 and r.json()["data"]["capture_status_code"] == "SUCCESS"
        # bad input: the OCPI error, nothing stored
        r = await http.post(f"{url}/terminals/OTHER-ID", json=minimal)
        assert r.status_code == 400 and r.json()["status_code"] == 2001 and "terminal_id" in r.json()["status_message"]
        r = await http.post(f"{url}/terminals", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        r = await http.post(f"{url}/terminals", json=[minimal])
        assert r.status_code == 400 and r.json()["status_code"] == 2001
        r = await http.post(f"{url}/financial-advice-confirmations", json={**fac, "id": "F-2", "currency": 5})
        assert r.status_code == 400 and "currency" in r.json()["status_message"]
        assert (await http.get(f"{url}/financial-advice-confirmations/F-2")).status_code == 404
        assert (await http.get(f"{url}/terminals/OTHER-ID")).status_code == 404
        # a version without the module, and a partner that is no PTP
        assert (await http.get(f"{cpo.url}/ocpi/2.2.1/cpo/payments/terminals/x")).json()["status_code"] == 2000
        r = await http.get(f"{url}/terminals/{minimal['terminal_id']}", headers=auth("other-token"))
        assert r.status_code == 403
    listed = await cpo.platform.terminals.listing()
    assert [t["terminal_id"] for t in listed] == [minimal["terminal_id"]] and listed[0]["party"] == "NL/PAY"
