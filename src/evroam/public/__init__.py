"""Public adapter: what anyone may see and do without a contract, a partnership or an account.

- open data (open_data.py): our published locations, EVSE statuses and prices as OCPI 2.2.1
  and DATEX II v3 (AFIR), and the push to a National Access Point (nap.py);
- the pages for drivers (pages.py, templates/): find a station, its live status and ad-hoc
  price, pay by card and charge, the receipt; the payment provider's webhook (webhooks.py);
- the QR codes of our EVSEs (qr.py), leading to their pages.

It calls the services like every other adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from evroam.public import open_data, pages, webhooks

    app.include_router(open_data.router)
    app.include_router(pages.router)
    app.include_router(webhooks.router)
