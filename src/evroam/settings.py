"""Settings: every option comes from the command line, `EVROAM_*` environment variables, or a
TOML file (`EVROAM_CONFIG=path.toml`, else `./evroam.toml` when present), in that order of
priority. A folder with an `evroam.toml` fully describes one instance, so every command run
there (server and CLI) agrees on it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
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
        default_factory=list, description="OCPI versions offered to partners (empty: every version evroam speaks)"
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
    ocpp_log_max_frame_chars: int = Field(
        65536, ge=256, description="the OCPP log keeps at most this many characters of a frame (the rest is cut, "
        "with a note saying how much)"
    )
    ocpp_max_frame_bytes: int = Field(
        1_048_576, ge=4096, description="largest WebSocket message a charger may send (bytes); a bigger one closes "
        "the connection (1009)"
    )
    ocpp_max_json_depth: int = Field(
        32, ge=4, le=512, description="deepest nesting of arrays and objects in an OCPP frame; a deeper one is "
        "answered with a format CALLERROR"
    )
    ocpp_max_pending_calls: int = Field(
        16, ge=1, description="CALLs of one charger waiting to be handled; beyond that its frames are not read "
        "until one is answered (back-pressure)"
    )
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
    ocpp_max_transaction_age_days: int = Field(
        60, ge=1, description="a transaction start or stop a charger dates further back than this (a clock never "
        "set says 1970) is dated when it is received instead, and flagged"
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

    http_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="largest request body on the HTTP port (OCPI, driver API; bytes): a bigger "
        "one is answered 413 without being read"
    )
    admin_max_body_bytes: int = Field(
        16_777_216, ge=1024, description="largest request body of the admin API (/admin; bytes), which imports "
        "whole location and tariff lists"
    )
    http_max_header_bytes: int = Field(
        65536, ge=4096, description="largest request line and headers on the HTTP port (bytes); beyond it 431 "
        "and the connection is closed"
    )
    http_header_timeout: float = Field(
        10.0, gt=0, description="seconds a client has to send a request's line and headers (from the connection, "
        "or the first byte of a request); then 408 and the connection is closed"
    )
    http_body_timeout: float = Field(
        60.0, gt=0, description="seconds a client has to send a request's whole body once its headers are in; "
        "then 408 and the connection is closed"
    )

    admin_token: str | None = Field(None, description="bearer token of the admin API (generated if unset)")
    metrics_token: str | None = Field(
        None, description="bearer token /metrics requires (unset: /metrics is open, for loopback-only setups)"
    )

    throttle_failures: int = Field(
        10, ge=0, description="wrong credentials from one address at one door within throttle_window that "
        "refuse it for a while (0: no throttling)"
    )
    throttle_window: float = Field(60.0, gt=0, description="seconds over which throttle_failures are counted")
    throttle_delay: float = Field(5.0, gt=0, description="seconds of the first refusal; doubles with each lockout")
    throttle_max_delay: float = Field(900.0, gt=0, description="longest refusal in seconds")
    throttle_max_entries: int = Field(
        10_000, ge=1, description="most (door, address) pairs the throttle remembers (memory bound)"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="addresses or CIDR networks of reverse proxies whose X-Forwarded-For "
        "is believed (default: none; the peer address is the client)"
    )
    redis_url: str | None = Field(
        None, description="Redis URL when several nodes (processes, machines) share one PostgreSQL database"
    )
    redis_prefix: str = Field("evroam", min_length=1, max_length=40,
                              description="prefix of every Redis key and channel (one per platform sharing a Redis)")
    node_name: str | None = Field(None, max_length=40, description="name of this node in /health, /metrics and logs "
                                  "(default: the host name; a suffix makes it unique)")
    change_poll_seconds: float = Field(
        0.25, gt=0, le=1.0, description="how often a server reads the changes other processes made (sites, chargers, "
        "tariffs ...)"
    )
    # --- open data, National Access Point push, ad-hoc payment, receipts by e-mail
    open_data_tokens: bool = Field(
        False, description="open data endpoints (/open-data/...) require a consumer's token (`evroam opendata "
        "consumers add NAME`); false: open to anyone"
    )
    nap_table_url: str | None = Field(
        None, description="URL a National Access Point takes our DATEX II table (static data) at (unset: no push)"
    )
    nap_status_url: str | None = Field(
        None, description="URL a National Access Point takes our DATEX II status (dynamic data) at (unset: no push)"
    )
    nap_client_cert: str | None = Field(None, description="PEM client certificate presented to the NAP (mutual TLS)")
    nap_client_key: str | None = Field(None, description="PEM private key of nap_client_cert")
    nap_ca: str | None = Field(None, description="PEM CA bundle the NAP's server certificate is checked against "
                               "(unset: the system's)")
    nap_snapshot_seconds: float = Field(
        86400.0, gt=0, description="seconds between full snapshots (table and status) pushed to the NAP"
    )
    nap_delta_seconds: float = Field(
        30.0, gt=0, le=60.0, description="a status change is pushed to the NAP as a delta within this many seconds"
    )
    payment_provider: Literal["stripe"] | None = Field(
        None, description="card payment provider for ad-hoc charging (unset: drivers cannot pay by card)"
    )
    stripe_api_key: str | None = Field(None, description="Stripe secret API key (sk_...); never logged")
    stripe_publishable_key: str | None = Field(None, description="Stripe publishable key (pk_...) the driver's "
                                               "browser collects the card with")
    stripe_webhook_secret: str | None = Field(None, description="Stripe webhook signing secret (whsec_...); "
                                              "never logged")
    stripe_api_base: str | None = Field(None, description="base URL of the Stripe API (unset: Stripe's own)")
    payment_hold: str = Field(
        "50.00", description="amount pre-authorised on the card before an ad-hoc session starts (in `currency`); "
        "the session stops before its cost reaches it"
    )
    payment_start_seconds: float = Field(
        180.0, gt=0, description="seconds the charger has to start a paid session; then the hold is released"
    )
    smtp_host: str | None = Field(None, description="SMTP server for receipts (unset: mail is written to mail_outbox)")
    smtp_port: int = Field(587, description="port of smtp_host")
    smtp_user: str | None = Field(None, description="SMTP user name")
    smtp_password: str | None = Field(None, description="SMTP password; never logged")
    smtp_starttls: bool = Field(True, description="use STARTTLS with smtp_host")
    mail_from: str = Field("evroam <receipts@localhost>", description="sender of receipts")
    mail_outbox: str = Field("mail-outbox", description="folder receipts are written to (.eml) when no "
                             "smtp_host is set")
    # the back office in the browser (web UI at /)
    web_session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="hours a browser stays signed in to the back office without being used"
    )
    web_secure_cookies: bool | None = Field(
        None, description="mark the back office's cookies Secure (HTTPS only); default: when public_url is https"
    )
    web_map_tiles: str | None = Field(
        None, description="tile server of the back office's map, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png "
        "(unset: a plain map of the locations drawn without tiles, nothing loaded from elsewhere)"
    )
    web_map_attribution: str = Field(
        "", max_length=300, description="attribution shown under the map when web_map_tiles is set "
        "(e.g. © OpenStreetMap contributors)"
    )
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

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value):
        """`10.0.0.1,192.168.0.0/16` or a JSON list; each must be an address or a CIDR network."""
        import ipaddress

        if isinstance(value, str):
            value = json.loads(value) if value.strip().startswith("[") else value.split(",")
        value = [str(v).strip() for v in value if str(v).strip()]
        for v in value:
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError:
                raise ValueError(f"{v!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("payment_hold")
    @classmethod
    def _amount(cls, value: str) -> str:
        from decimal import Decimal, InvalidOperation

        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount such as 50.00") from None
        if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise ValueError(f"{value!r}: a positive amount with at most 2 decimals")
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
