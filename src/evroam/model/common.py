"""Building blocks shared by every domain object: the OCPI DateTime profile, string limits,
and the small classes (DisplayText, Price, BusinessDetails, ...) used across modules."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

# --------------------------------------------------------------------------- DateTime

_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE | re.ASCII,  # ASCII digits only
)


def parse_datetime(value: Any) -> datetime:
    """Parse an OCPI DateTime (RFC 3339, UTC; a missing suffix means UTC). Offsets other than
    Z are accepted and converted to UTC, so peers that send `+00:00` still interoperate."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError("expected a DateTime string such as 2024-05-06T08:00:00Z")
    m = _DT_RE.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not an OCPI DateTime (expected e.g. 2024-05-06T08:00:00Z)")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date and time: {exc}") from None
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        if int(digits[:2]) > 23 or int(digits[2:]) > 59:
            raise ValueError(f"{value!r}: the UTC offset {zone} is not a time of day")
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
        from datetime import timedelta

        try:
            dt = dt - timedelta(minutes=offset)
        except OverflowError:
            raise ValueError(f"{value!r} is out of the range of dates (years 1 to 9999 in UTC)") from None
    return dt


def format_datetime(value: datetime) -> str:
    """Format as OCPI DateTime: UTC with a Z, milliseconds only when present (max 25 chars)."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    # not strftime's %Y: it leaves out the leading zeros of years before 1000
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}".rstrip("0").rstrip(".") or ""
    return text + "Z"


DateTime = Annotated[datetime, BeforeValidator(parse_datetime), PlainSerializer(format_datetime, return_type=str)]


def utcnow() -> datetime:
    """The current time, truncated to whole milliseconds (what the wire can carry)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


# --------------------------------------------------------------------------- paging

#: The largest offset or limit a list request may give (every API): SQL databases count rows in
#: 64-bit signed integers (SQLite, PostgreSQL's bigint), so a larger value cannot mean anything.
MAX_PAGING_VALUE = 2**63 - 1


# --------------------------------------------------------------------------- strings


def CiString(max_length: int) -> Any:  # noqa: N802 - reads like the spec's type name
    """Case-insensitive string of printable ASCII, at most `max_length` characters."""
    return Annotated[str, Field(max_length=max_length, pattern=r"^[\x20-\x7e]*$")]


def String(max_length: int) -> Any:  # noqa: N802
    return Annotated[str, Field(max_length=max_length)]


URL = Annotated[str, Field(max_length=255)]


# --------------------------------------------------------------------------- base


class OcpiModel(BaseModel):
    """Base of every domain object. Unknown fields are tolerated and dropped (OCPI 2.3.0 makes
    this a rule; earlier versions' peers rely on it too)."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False, validate_assignment=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the model's (2.2.1-shaped) form; absent optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True)


def field_errors(exc: ValidationError) -> list[str]:
    """One readable line per field problem, e.g. `evses[0].connectors[0].standard: Input should be ...`."""
    lines = []
    for err in exc.errors():
        path = ""
        for part in err.get("loc", ()):
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        msg = err.get("msg", "invalid")
        lines.append(f"{path or '(body)'}: {msg}")
    return lines


# --------------------------------------------------------------------------- shared classes


class DisplayText(OcpiModel):
    language: Annotated[str, Field(min_length=2, max_length=2)]
    text: String(512)


class TaxAmount(OcpiModel):
    """One tax of a Price (OCPI 2.3.0): its name (e.g. "VAT"), optionally the account number and
    percentage it was computed at, and the amount."""

    name: str
    account_number: str | None = None
    percentage: float | None = None
    amount: float


class Price(OcpiModel):
    """An amount before and after tax. The version-neutral form of both the 2.2.1 Price
    (`excl_vat`, `incl_vat`) and the 2.3.0 Price (`before_taxes`, `taxes`): `taxes` keeps the
    2.3.0 list when a partner gave one (`incl_vat` is then `excl_vat` plus their amounts)."""

    excl_vat: float
    incl_vat: float | None = None
    taxes: list[TaxAmount] | None = None


class ImageCategory(StrEnum):
    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class Image(OcpiModel):
    url: URL
    thumbnail: URL | None = None
    category: ImageCategory
    type: CiString(4)
    width: Annotated[int, Field(ge=0, le=99999)] | None = None
    height: Annotated[int, Field(ge=0, le=99999)] | None = None


class BusinessDetails(OcpiModel):
    name: String(100)
    website: URL | None = None
    logo: Image | None = None


class GeoLocation(OcpiModel):
    latitude: Annotated[str, Field(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
    longitude: Annotated[str, Field(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]


class AdditionalGeoLocation(GeoLocation):
    name: DisplayText | None = None


class EnergySourceCategory(StrEnum):
    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(StrEnum):
    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


class EnergySource(OcpiModel):
    source: EnergySourceCategory
    percentage: Annotated[float, Field(ge=0, le=100)]


class EnvironmentalImpact(OcpiModel):
    category: EnvironmentalImpactCategory
    amount: float


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String(64) | None = None
    energy_product_name: String(64) | None = None


class Role(StrEnum):
    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"
    # Payment Terminal Provider (2.3.0 payments module): the 2.3.0 Role table leaves it out, but
    # its table of modules per role names it, and payment terminal providers register with it
    PTP = "PTP"
