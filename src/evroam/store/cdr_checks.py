"""The re-pricing result of each CDR received from a CPO partner (disputes among them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.store.tables import cdr_checks, cdrs

COLUMNS = ("country_code", "party_id", "cdr_id", "status", "currency", "tariff_id", "claimed_excl_vat",
           "claimed_incl_vat", "computed_excl_vat", "computed_incl_vat", "difference", "detail", "checked_at")


def _row(row: Any) -> dict[str, Any]:
    return {k: getattr(row, k) for k in COLUMNS}


class CdrCheckRepository:
    async def put(self, conn: AsyncConnection, check: dict[str, Any]) -> None:
        """Insert or replace the check of one CDR."""
        values = {k: check.get(k) for k in COLUMNS}
        values["country_code"] = values["country_code"].upper()
        values["party_id"] = values["party_id"].upper()
        t = cdr_checks.c
        key = and_(t.country_code == values["country_code"], t.party_id == values["party_id"],
                   t.cdr_id == values["cdr_id"])
        result = await conn.execute(update(cdr_checks).where(key).values(**values))
        if not result.rowcount:
            await conn.execute(cdr_checks.insert().values(**values))

    async def get(self, conn: AsyncConnection, cc: str, pid: str, cdr_id: str) -> dict[str, Any] | None:
        t = cdr_checks.c
        row = (await conn.execute(select(cdr_checks).where(t.country_code == cc.upper(), t.party_id == pid.upper(),
                                                           t.cdr_id == cdr_id))).first()
        return _row(row) if row else None

    async def of_cdrs(self, conn: AsyncConnection, keys: list[tuple[str, str, str]]
                      ) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The checks of several CDRs in one query, by (COUNTRY_CODE, PARTY_ID, cdr_id) (country
        code and party id upper case); CDRs without a check are absent."""
        if not keys:
            return {}
        t = cdr_checks.c
        wanted = {(cc.upper(), pid.upper(), cdr_id) for cc, pid, cdr_id in keys}
        query = select(cdr_checks).where(tuple_(t.country_code, t.party_id, t.cdr_id).in_(list(wanted)))
        return {(r.country_code, r.party_id, r.cdr_id): _row(r) for r in (await conn.execute(query)).all()}

    async def list(self, conn: AsyncConnection, *, status: str | None = None, limit: int = 1000) -> list[dict]:
        """Newest first."""
        query = select(cdr_checks).order_by(cdr_checks.c.pk.desc()).limit(limit)
        if status is not None:
            query = query.where(cdr_checks.c.status == status)
        return [_row(r) for r in (await conn.execute(query)).all()]

    async def unchecked(self, conn: AsyncConnection, ours: tuple[str, str], limit: int = 200
                        ) -> list[tuple[str, str, str]]:
        """(country_code, party_id, id) of CDRs received from CPO partners that have no check yet,
        oldest first."""
        c, k = cdrs.c, cdr_checks.c
        query = (select(c.country_code, c.party_id, c.id)
                 .select_from(cdrs.outerjoin(cdr_checks, and_(k.country_code == c.country_code,
                                                              k.party_id == c.party_id, k.cdr_id == c.id)))
                 .where(k.pk.is_(None), c.emsp_country_code.is_(None),
                        ~and_(c.country_code == ours[0].upper(), c.party_id == ours[1].upper()))
                 .order_by(c.pk).limit(limit))
        return [(r[0], r[1], r[2]) for r in (await conn.execute(query)).all()]
