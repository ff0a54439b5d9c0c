"""Small translations shared by the handler sets."""

from __future__ import annotations

from evroam.model.common import format_datetime, utcnow
from evroam.services.authorization import Authorization

REGISTRATION = {"ACCEPTED": "Accepted", "PENDING": "Pending", "REJECTED": "Rejected"}


def now() -> str:
    return format_datetime(utcnow())


def id_tag_info_16(decision: Authorization | None) -> dict[str, str]:
    """1.6 IdTagInfo: Accepted, Blocked, Expired, Invalid (no NoCredit in 1.6)."""
    status = decision.status if decision is not None else "Invalid"
    return {"status": "Blocked" if status == "NoCredit" else status}


def id_token_info_2(decision: Authorization | None) -> dict[str, str]:
    """2.x IdTokenInfo."""
    return {"status": decision.status if decision is not None else "Invalid"}
