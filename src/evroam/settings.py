"""Settings: every option comes from the command line, `EVROAM_*` environment variables, or a
TOML file (`EVROAM_CONFIG=path.toml`, else `./evroam.toml` when present), in that order of
priority. A folder with an `evroam.toml` fully describes one instance, so every command run
there (server and CLI) agrees on it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Role = Literal["CPO", "EMSP"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVROAM_", extra="ignore")

    database_url: str = Field(
        "sqlite+aiosqlite:///./evroam.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db",
    )
    host: str = Field("127.0.0.1", description="address the HTTP and OCPP servers listen on")
    http_port: int = Field(8080, description="port of OCPI, the admin API and the web UI")
    ocpp_port: int = Field(9000, description="port of the OCPP WebSocket server")
    public_url: str | None = Field(
        None, description="base URL partners use to reach us; default http://HOST:HTTP_PORT"
    )

    country_code: str = Field("NL", min_length=2, max_length=2, description="our ISO 3166 alpha-2 country")
    party_id: str = Field("EVR", min_length=3, max_length=3, description="our OCPI party id")
    roles: Annotated[list[Role], NoDecode] = Field(default_factory=lambda: ["CPO", "EMSP"], description="OCPI roles we play")
    business_name: str = Field("evroam", max_length=100, description="name shown to partners")
    business_website: str | None = None

    ocpi_versions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["2.2.1"], description="OCPI versions offered to partners"
    )
    ocpi_page_limit: int = Field(1000, ge=1, description="largest page the OCPI list endpoints return")
    ocpi_timeout: float = Field(15.0, gt=0, description="seconds before a call to a partner times out")

    outbox_poll_seconds: float = Field(2.0, gt=0, description="how often the outbox looks for new work")
    outbox_backoff_base: float = Field(1.0, gt=0, description="first retry delay in seconds")
    outbox_backoff_max: float = Field(600.0, gt=0, description="longest retry delay in seconds")

    ocpp_tls_cert: str | None = Field(None, description="PEM certificate of the OCPP server (wss://, security profile 2)")
    ocpp_tls_key: str | None = Field(None, description="PEM private key of ocpp_tls_cert")
    ocpp_client_ca: str | None = Field(
        None, description="PEM CA bundle of charger client certificates (mutual TLS, security profile 3)"
    )
    ocpp_unknown_chargers: Literal["reject", "pending"] = Field(
        "reject", description="unknown charger ids: refused at the handshake, or accepted as Pending for approval"
    )
    ocpp_heartbeat_interval: int = Field(300, ge=1, description="heartbeat interval (seconds) given to chargers")
    ocpp_offline_after_missed: float = Field(
        3.0, gt=0, description="a charger silent for this many heartbeat intervals is offline (EVSEs UNKNOWN)"
    )
    ocpp_call_timeout: float = Field(30.0, gt=0, description="seconds to wait for a charger's answer to our CALL")
    command_timeout: int = Field(
        30, ge=1, description="seconds a remote command waits for the charger (the OCPI CommandResponse timeout)"
    )
    ocpp_log_retention_days: float = Field(90.0, ge=0, description="days OCPP messages stay in the log (0: forever)")
    load_replan_seconds: float = Field(60.0, gt=0, description="load management: seconds between re-plans of every site")
    load_replan_delay: float = Field(
        0.2, ge=0, description="load management: seconds from an event (session start/stop, meter, change) to the re-plan"
    )
    load_hysteresis_a: float = Field(
        1.0, ge=0, description="load management: a limit rising by no more than this (A per phase) is not sent"
    )
    load_profile_timeout: float = Field(
        10.0, gt=0, description="load management: seconds to wait for a charger's answer to a charging profile"
    )
    session_push_interval: float = Field(
        60.0, ge=0, description="seconds between session updates pushed to the eMSP while charging (0: every change)"
    )
    meter_power_margin: float = Field(
        1.5, ge=0, description="an energy reading that rises faster than this many times the EVSE's maximum power "
        "(plus a minute's grace) is refused for billing as implausible; 0 checks only that readings never go down"
    )
    currency: str = Field("EUR", min_length=3, max_length=3, description="currency of sessions without a tariff")
    pull_interval: float = Field(
        900.0, ge=0, description="(eMSP) seconds between pulls of every CPO partner's data (0: never)"
    )
    dispute_threshold: float = Field(
        0.01, ge=0, description="a received CDR whose total differs from our re-pricing by more than this "
        "(currency units) is a dispute"
    )
    billing_time_zone: str = Field(
        "UTC", description="time zone of the months of drivers' invoices and monthly credit limits"
    )

    admin_token: str | None = Field(None, description="bearer token of the admin API (generated if unset)")
    redis_url: str | None = Field(None, description="Redis URL when several processes share the work")
    log_level: str = "INFO"

    @field_validator("country_code", "party_id")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("roles", "ocpi_versions", mode="before")
    @classmethod
    def _split(cls, value):
        """Lists from the environment: `CPO,EMSP` or JSON `["CPO", "EMSP"]`."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @field_validator("billing_time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None
        return value

    @model_validator(mode="after")
    def _check_versions(self) -> Settings:
        from evroam.ocpi.versions_supported import SUPPORTED_VERSIONS

        unknown = [v for v in self.ocpi_versions if v not in SUPPORTED_VERSIONS]
        if unknown:
            raise ValueError(f"ocpi_versions: {unknown} not supported (choose from {sorted(SUPPORTED_VERSIONS)})")
        return self

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.http_port}"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("EVROAM_CONFIG") or ("evroam.toml" if Path("evroam.toml").is_file() else None)
        if config:
            if not Path(config).is_file():
                raise ValueError(f"EVROAM_CONFIG: {config} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)


def load_settings(**overrides) -> Settings:
    """Settings from the environment (and TOML file), with explicit overrides (None = not given)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
