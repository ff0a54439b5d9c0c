"""Credit CDRs we received (we are the eMSP), each linked to the CDR it cancels."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import cdr_credits


class CdrCreditRepository:
    async def link_credit(self, conn: AsyncConnection, country_code: str, party_id: str, cdr_id: str,
                          credit_cdr_id: str) -> None:
        await conn.execute(cdr_credits.insert().values(country_code=country_code.upper(), party_id=party_id.upper(),
                                                       cdr_id=cdr_id, credit_cdr_id=credit_cdr_id,
                                                       created_at=utcnow()))

    async def credit_of(self, conn: AsyncConnection, country_code: str, party_id: str, cdr_id: str) -> str | None:
        """The id of the Credit CDR that cancels a CDR, if any."""
        c = cdr_credits.c
        return (await conn.execute(select(c.credit_cdr_id).where(
            c.country_code == country_code.upper(), c.party_id == party_id.upper(), c.cdr_id == cdr_id))).scalar()
