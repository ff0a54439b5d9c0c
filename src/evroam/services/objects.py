"""Helpers shared by the services that keep OCPI objects: validation with readable errors and
the PATCH merge rule."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from evroam.events import Bus
from evroam.model.common import field_errors, parse_datetime
from evroam.services.errors import Invalid
from evroam.services.ports import PartnerPushes
from evroam.settings import Settings
from evroam.store import Store

M = TypeVar("M", bound=BaseModel)


class OwnObjectsService:
    """Base of the services that keep objects of our own party and push their changes."""

    def __init__(self, store: Store, bus: Bus, settings: Settings, pushes: PartnerPushes) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.pushes = pushes

    @property
    def owner(self) -> tuple[str, str]:
        """Our (country_code, party_id)."""
        return self.settings.country_code, self.settings.party_id

    def validate_own(self, model: type[M], data: Any, *, as_own: bool, kind: str) -> list[dict[str, Any]]:
        """Validate one object or a list of them as ours (all or nothing): `as_own` rewrites the
        owner to our party, otherwise another party's object is refused with a clear message."""
        cc, pid = self.owner
        items = data if isinstance(data, list) else [data]
        objects: list[dict[str, Any]] = []
        for i, raw in enumerate(items):
            where = f"[{i}]" if isinstance(data, list) else ""
            if isinstance(raw, dict) and as_own:
                raw = {**raw, "country_code": cc, "party_id": pid}
            obj = validated(model, raw, where=where)
            if (obj.country_code.upper(), obj.party_id.upper()) != (cc, pid):
                raise Invalid(
                    f"{where + '.' if where else ''}country_code/party_id: {kind} {obj.id!r} belongs to "
                    f"{obj.country_code}/{obj.party_id}, not to us ({cc}/{pid}); use --as-own to import it as ours"
                )
            objects.append(obj.to_dict())
        return objects


def validated(model: type[M], data: Any, *, where: str = "") -> M:
    """Validate `data` as `model`; Invalid names every bad field (prefixed with `where`)."""
    if not isinstance(data, dict):
        raise Invalid(f"{where or model.__name__}: expected a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        prefix = f"{where}." if where else ""
        lines = [prefix + line for line in field_errors(exc)]
        more = f" (and {len(lines) - 8} more)" if len(lines) > 8 else ""
        raise Invalid("; ".join(lines[:8]) + more) from None


def merge_patch(current: dict[str, Any], patch: dict[str, Any], *, require_last_updated: bool = True) -> dict[str, Any]:
    """OCPI PATCH: the fields present in the patch replace the stored ones; `last_updated` is
    required (2.2+)."""
    if not isinstance(patch, dict) or not patch:
        raise Invalid("PATCH body: expected a JSON object with the fields to change")
    if require_last_updated:
        if "last_updated" not in patch:
            raise Invalid("last_updated: required in a PATCH")
        try:
            parse_datetime(patch["last_updated"])
        except ValueError as exc:
            raise Invalid(f"last_updated: {exc}") from None
    merged = dict(current)
    merged.update(patch)
    return merged


def same_id(a: str, b: str) -> bool:
    """OCPI ids are CiStrings: compared case-insensitively."""
    return a.casefold() == b.casefold()
