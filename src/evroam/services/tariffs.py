"""Tariffs: our own (as CPO: imported, pushed to partners, referenced by connectors) and those
partners push to us (as eMSP)."""

from __future__ import annotations

from typing import Any

from evroam.model.common import format_datetime, parse_datetime, utcnow
from evroam.model.tariffs import Tariff
from evroam.services.errors import Invalid, NotFound
from evroam.services.locations import ImportResult
from evroam.services.objects import OwnObjectsService, merge_patch, same_id, validated


class TariffService(OwnObjectsService):
    async def import_tariffs(self, data: Any, *, as_own: bool = False) -> ImportResult:
        cc, pid = self.owner
        tariffs = self.validate_own(Tariff, data, as_own=as_own, kind="tariff")
        result = ImportResult([], [])
        now = utcnow()
        async with self.store.begin() as conn:
            for tariff in tariffs:
                tariff["last_updated"] = format_datetime(now)
                created = await self.store.tariffs.put(conn, cc, pid, tariff["id"], tariff, now)
                (result.created if created else result.updated).append(tariff["id"])
                await self.pushes.tariff_put(conn, tariff)
        for tariff in tariffs:
            self.bus.publish("tariff.changed", country_code=cc, party_id=pid, tariff_id=tariff["id"])
        self.bus.publish("outbox.enqueued")
        return result

    async def delete_own(self, tariff_id: str) -> None:
        cc, pid = self.owner
        async with self.store.begin() as conn:
            if not await self.store.tariffs.delete(conn, cc, pid, tariff_id):
                raise NotFound(f"tariff {tariff_id!r} not found", kind="tariff")
            await self.pushes.tariff_delete(conn, tariff_id)
        self.bus.publish("tariff.deleted", country_code=cc, party_id=pid, tariff_id=tariff_id)
        self.bus.publish("outbox.enqueued")

    async def get(self, cc: str, pid: str, tariff_id: str) -> dict[str, Any]:
        async with self.store.connect() as conn:
            tariff = await self.store.tariffs.get(conn, cc, pid, tariff_id)
        if tariff is None:
            raise NotFound(f"tariff {tariff_id!r} of {cc}/{pid} not found", kind="tariff")
        return tariff

    async def receive_put(self, cc: str, pid: str, tariff_id: str, body: Any) -> bool:
        tariff = validated(Tariff, body)
        if not (same_id(tariff.country_code, cc) and same_id(tariff.party_id, pid)):
            raise Invalid(f"country_code/party_id: body says {tariff.country_code}/{tariff.party_id}, URL says {cc}/{pid}")
        if not same_id(tariff.id, tariff_id):
            raise Invalid(f"id: body says {tariff.id!r}, URL says {tariff_id!r}")
        data = tariff.to_dict()
        if "last_updated" not in data:
            raise Invalid("last_updated: required")
        async with self.store.begin() as conn:
            created = await self.store.tariffs.put(conn, cc, pid, tariff.id, data, parse_datetime(data["last_updated"]))
        self.bus.publish("tariff.received", country_code=cc.upper(), party_id=pid.upper(), tariff_id=tariff_id)
        return created

    async def receive_patch(self, cc: str, pid: str, tariff_id: str, patch: Any) -> None:
        """A CPO's PATCH of a tariff (OCPI 2.1.1): only the given fields change."""
        if not isinstance(patch, dict):
            raise Invalid("expected a JSON object")
        for key in ("id", "country_code", "party_id"):
            if key in patch and not same_id(str(patch[key]), cc if key == "country_code" else pid
                                            if key == "party_id" else tariff_id):
                raise Invalid(f"{key}: cannot be changed by PATCH")
        async with self.store.begin() as conn:
            current = await self.store.tariffs.get(conn, cc, pid, tariff_id)
            if current is None:
                raise NotFound(f"tariff {tariff_id!r} of {cc}/{pid} not found", kind="tariff")
            tariff = validated(Tariff, merge_patch(current, patch)).to_dict()
            await self.store.tariffs.put(conn, cc, pid, current["id"], tariff, parse_datetime(tariff["last_updated"]))
        self.bus.publish("tariff.received", country_code=cc.upper(), party_id=pid.upper(), tariff_id=tariff_id)

    async def receive_delete(self, cc: str, pid: str, tariff_id: str) -> None:
        async with self.store.begin() as conn:
            if not await self.store.tariffs.delete(conn, cc, pid, tariff_id):
                raise NotFound(f"tariff {tariff_id!r} of {cc}/{pid} not found", kind="tariff")

    async def store_pulled(self, tariffs: list[dict[str, Any]], allowed: list[tuple[str, str]]) -> int:
        stored = 0
        async with self.store.begin() as conn:
            for raw in tariffs:
                tariff = validated(Tariff, raw, where=f"tariff {raw.get('id') if isinstance(raw, dict) else '?'}")
                if (tariff.country_code.upper(), tariff.party_id.upper()) not in allowed:
                    continue
                data = tariff.to_dict()
                stamp = tariff.last_updated or utcnow()
                await self.store.tariffs.put(conn, tariff.country_code, tariff.party_id, tariff.id, data, stamp)
                stored += 1
        return stored
