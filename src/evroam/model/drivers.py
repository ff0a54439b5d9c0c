"""Our drivers (we are their eMSP) and their contract ids in eMA-ID form.

An eMA-ID (ISO 15118-2 Annex H, eMI3 "Contract-ID") is `CC-PPP-IIIIIIIII-D`: a country code
(2 letters), the provider id (3 letters or digits), the contract instance (9 letters or digits;
eMI3 starts it with the ID type `C`) and an optional check digit; the separators (`-`) are
optional too. The check digit is the one of the eMI3 "Check digit calculation for Contract-IDs"
(letters and digits each stand for a 2x2 matrix; a weighted sum of their rows over powers of
two fixed matrices, modulo 2 and modulo 3, gives the matrix of the check character)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from evroam.model.common import format_datetime

__all__ = ["Driver", "DriverStatus", "EmaId", "check_digit", "parse_emaid"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_EMAID_RE = re.compile(r"^([A-Z]{2})(-?)([A-Z0-9]{3})\2([A-Z0-9]{9})(?:\2([A-Z0-9]))?$")


class DriverStatus(StrEnum):
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"


# ------------------------------------------------------------------ eMA-ID


def _matrix(ch: str) -> tuple[int, int, int, int]:
    """The matrix (q11, q12, q21, q22) a character stands for: its index in 0-9A-Z written
    as 18*q11 + 9*q12 + 3*q21 + q22 (q11, q12 in 0..1; q21, q22 in 0..2)."""
    k = _ALPHABET.index(ch)
    return k // 18, (k // 9) % 2, (k // 3) % 3, k % 3


def _mul(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return (a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3])


def _powers(base: tuple[int, int, int, int], n: int, modulus: int) -> list[tuple[int, int, int, int]]:
    out, current = [], base
    for _ in range(n):
        out.append(current)
        current = tuple(v % modulus for v in _mul(current, base))  # type: ignore[assignment]
    return out


_P1 = _powers((0, 1, 1, 1), 14, 2)  # P1^1 .. P1^14 over GF(2)
_P2 = _powers((0, 1, 1, 2), 14, 3)  # P2^1 .. P2^14 over GF(3)
_NEG_P2_INV15 = (0, 2, 2, 1)  # -P2^-15 over GF(3)


def check_digit(code: str) -> str:
    """The check character of the 14 characters CC PPP IIIIIIIII (no separators)."""
    code = code.upper()
    if len(code) != 14 or any(ch not in _ALPHABET for ch in code):
        raise ValueError("the check digit is computed over 14 letters and digits (CCPPPIIIIIIIII)")
    a1 = a2 = b1 = b2 = 0
    for i, ch in enumerate(code):
        q11, q12, q21, q22 = _matrix(ch)
        p, r = _P1[i], _P2[i]
        a1 += q11 * p[0] + q12 * p[2]
        a2 += q11 * p[1] + q12 * p[3]
        b1 += q21 * r[0] + q22 * r[2]
        b2 += q21 * r[1] + q22 * r[3]
    n = _NEG_P2_INV15
    c1 = (b1 * n[0] + b2 * n[2]) % 3
    c2 = (b1 * n[1] + b2 * n[3]) % 3
    return _ALPHABET[18 * (a1 % 2) + 9 * (a2 % 2) + 3 * c1 + c2]


@dataclass(frozen=True)
class EmaId:
    country_code: str
    provider_id: str
    instance: str
    check: str

    @property
    def compact(self) -> str:
        """CCPPPIIIIIIIIID: the form stored and compared."""
        return f"{self.country_code}{self.provider_id}{self.instance}{self.check}"

    @property
    def display(self) -> str:
        """CC-PPP-IIIIIIIII-D: the form printed on cards and sent as contract_id."""
        return f"{self.country_code}-{self.provider_id}-{self.instance}-{self.check}"

    def __str__(self) -> str:
        return self.display


def parse_emaid(text: str) -> EmaId:
    """Parse and check an eMA-ID; ValueError says what is wrong. Without a check digit, the
    right one is added."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("contract id: empty (expected an eMA-ID such as NL-EVR-C12345678-4)")
    value = text.strip().upper()
    m = _EMAID_RE.match(value)
    if not m:
        raise ValueError(
            f"contract id {text!r} is not an eMA-ID: expected CC-PPP-IIIIIIIII-D (country code: 2 letters, "
            "provider id: 3 letters or digits, contract instance: 9 letters or digits, optional check digit; "
            "dashes optional), e.g. NL-EVR-C12345678-4"
        )
    cc, _, provider, instance, given = m.groups()
    expected = check_digit(cc + provider + instance)
    if given is not None and given != expected:
        raise ValueError(f"contract id {text!r}: wrong check digit {given!r} (for {cc}-{provider}-{instance} "
                         f"it is {expected!r})")
    return EmaId(cc, provider, instance, expected)


# ------------------------------------------------------------------ driver


@dataclass
class Driver:
    pk: int
    id: str
    name: str
    status: DriverStatus
    contract_id: str  # compact eMA-ID
    created_at: datetime
    updated_at: datetime
    email: str | None = None
    contract_end: datetime | None = None
    credit_limit: Decimal | None = None
    allowed_cpos: list[str] = field(default_factory=list)  # ["CC/PID"]; empty: everywhere
    has_api_key: bool = False

    @property
    def active(self) -> bool:
        return self.status == DriverStatus.ACTIVE

    @property
    def contract(self) -> EmaId:
        return parse_emaid(self.contract_id)

    def may_charge_at(self, country_code: str, party_id: str) -> bool:
        return not self.allowed_cpos or f"{country_code}/{party_id}".upper() in self.allowed_cpos

    def expired(self, now: datetime) -> bool:
        return self.contract_end is not None and self.contract_end <= now

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "status": self.status.value,
            "contract_id": self.contract.display,
            "contract_end": format_datetime(self.contract_end) if self.contract_end else None,
            "credit_limit": str(self.credit_limit) if self.credit_limit is not None else None,
            "allowed_cpos": list(self.allowed_cpos),
            "created_at": format_datetime(self.created_at),
            "updated_at": format_datetime(self.updated_at),
        }
