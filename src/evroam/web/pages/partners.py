"""Partners: each OCPI connection with its version, roles, status, last pull, outbox depth and
oldest age, and last errors; a sync (pull) of a CPO partner, and (admins) a rotation of the
credentials tokens, done by the same code as `evroam partners sync|rotate`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from evroam.ocpi import sync
from evroam.ocpi.credentials import handshake
from evroam.services.errors import NotFound, ServiceError
from evroam.store.users import WebSession
from evroam.web import auth
from evroam.web.actions import act
from evroam.web.render import PREFIX, render

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/partners")
async def partners(request: Request, _: WebSession = Depends(auth.signed_in)) -> Response:
    p = auth.platform(request)
    async with p.store.connect() as conn:
        items = await p.store.partners.list(conn)
        waiting = await p.store.outbox.waiting_by_partner(conn)
        failed = {x.pk: await p.store.outbox.messages(conn, partner_pk=x.pk, status="failed", limit=3)
                  for x in items}
    rows = [(x, p.statistics.partner_health(x, waiting.get(x.pk)), failed[x.pk]) for x in items]
    return render(request, "partners.html", rows=rows)


async def _partner(request: Request, name: str):
    p = auth.platform(request)
    async with p.store.connect() as conn:
        partner = await p.store.partners.by_name(conn, name)
    if partner is None:
        raise NotFound(f"no partner named {name!r}", kind="partner")
    return partner


async def _sync(request: Request, name: str) -> dict[str, int]:
    try:
        return await sync.pull(auth.platform(request), await _partner(request, name))
    except ServiceError:
        raise
    except Exception as exc:  # the partner's failure, said to the operator (and recorded on the partner)
        raise ServiceError(f"pull from {name} failed: {exc}") from None


async def _rotate(request: Request, name: str) -> dict[str, str]:
    try:
        partner = await handshake.update_with(auth.platform(request), await _partner(request, name))
    except ServiceError:
        raise
    except Exception as exc:
        raise ServiceError(f"rotation with {name} failed: {exc}") from None
    return {"version": partner.version or ""}


@router.post("/partners/{name}/sync")
async def sync_partner(name: str, request: Request, session: WebSession = Depends(auth.acting)) -> Response:
    return await act(request, session, "partner.sync", name, {}, _sync(request, name),
                     done=f"Pulled from {name}", back=f"{PREFIX}/partners")


@router.post("/partners/{name}/rotate")
async def rotate_partner(name: str, request: Request, session: WebSession = Depends(auth.admin)) -> Response:
    return await act(request, session, "partner.rotate", name, {}, _rotate(request, name),
                     done=f"New credentials tokens exchanged with {name}", back=f"{PREFIX}/partners")
