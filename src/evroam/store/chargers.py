"""Chargers: identity, password hash, approval state, connector mapping, last boot and status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evroam.model.common import utcnow
from evroam.store.tables import chargers

ACCEPTED, PENDING, REJECTED = "ACCEPTED", "PENDING", "REJECTED"


@dataclass
class ChargerRecord:
    pk: int
    id: str
    status: str
    password_hash: str | None
    location_id: str | None
    evses: dict[int, str]  # OCPP connector (1.6) / EVSE (2.x) number -> OCPI EVSE uid
    ocpp_version: str | None
    boot: dict[str, Any] | None
    state: dict[str, Any] = field(default_factory=dict)
    last_seen_at: datetime | None = None
    created_at: datetime | None = None


def _record(row: Any) -> ChargerRecord:
    return ChargerRecord(
        pk=row.pk, id=row.id, status=row.status, password_hash=row.password_hash, location_id=row.location_id,
        evses={int(k): v for k, v in orjson.loads(row.evses or "{}").items()}, ocpp_version=row.ocpp_version,
        boot=orjson.loads(row.boot) if row.boot else None, state=orjson.loads(row.state or "{}"),
        last_seen_at=row.last_seen_at, created_at=row.created_at,
    )


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """Values as the columns store them (the mapping and JSON fields as JSON text)."""
    row: dict[str, Any] = {}
    for key, value in values.items():
        if key == "evses":
            row[key] = orjson.dumps({str(k): v for k, v in value.items()}).decode()
        elif key in ("boot", "state"):
            row[key] = orjson.dumps(value).decode() if value is not None else None
        else:
            row[key] = value
    return row


class ChargerRepository:
    async def get(self, conn: AsyncConnection, charger_id: str) -> ChargerRecord | None:
        row = (await conn.execute(select(chargers).where(chargers.c.id == charger_id))).first()
        return _record(row) if row else None

    async def list(self, conn: AsyncConnection) -> list[ChargerRecord]:
        return [_record(r) for r in (await conn.execute(select(chargers).order_by(chargers.c.id))).all()]

    async def create(self, conn: AsyncConnection, charger_id: str, *, status: str, password_hash: str | None,
                     location_id: str | None, evses: dict[int, str]) -> None:
        now = utcnow()
        await conn.execute(chargers.insert().values(
            id=charger_id, status=status, password_hash=password_hash, location_id=location_id,
            evses=orjson.dumps({str(k): v for k, v in evses.items()}).decode(), state="{}",
            created_at=now, updated_at=now,
        ))

    async def update(self, conn: AsyncConnection, charger_id: str, **values: Any) -> bool:
        row: dict[str, Any] = {"updated_at": utcnow(), **_columns(values)}
        result = await conn.execute(update(chargers).where(chargers.c.id == charger_id).values(**row))
        return bool(result.rowcount)

    async def update_many(self, conn: AsyncConnection, changes: dict[str, dict[str, Any]]) -> None:
        """Update many chargers (charger id -> column values, as `update` takes them): one
        executemany per set of columns changed together."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for charger_id, values in changes.items():
            row = {f"v_{k}": v for k, v in _columns(values).items()}
            row["charger_id"] = charger_id
            groups.setdefault(tuple(sorted(values)), []).append(row)
        for keys, rows in groups.items():
            await conn.execute(update(chargers).where(chargers.c.id == bindparam("charger_id"))
                               .values({k: bindparam(f"v_{k}") for k in keys}), rows)

    async def delete(self, conn: AsyncConnection, charger_id: str) -> bool:
        return bool((await conn.execute(delete(chargers).where(chargers.c.id == charger_id))).rowcount)

    async def placements(self, conn: AsyncConnection) -> list[tuple[str, str | None]]:
        """(id, location id) of every charger: where each one is, without reading the rest."""
        return [(r[0], r[1]) for r in (await conn.execute(select(chargers.c.id, chargers.c.location_id)
                                                          .order_by(chargers.c.id))).all()]

    async def many(self, conn: AsyncConnection, charger_ids: list[str]) -> list[ChargerRecord]:
        found: list[ChargerRecord] = []
        for i in range(0, len(charger_ids), 5000):  # (bounded statements: SQLite's parameter limit)
            rows = await conn.execute(select(chargers).where(chargers.c.id.in_(charger_ids[i:i + 5000])))
            found.extend(_record(r) for r in rows.all())
        return sorted(found, key=lambda c: c.id)
