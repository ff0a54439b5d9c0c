"""Table definitions. Migrations in `migrations/versions` create exactly these (a test checks
that the migrated schema matches this metadata)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from evroam.store.types import UTCDateTime

metadata = MetaData()

# Autoincrementing 64-bit keys on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
PK = BigInteger().with_variant(Integer(), "sqlite")

partners = Table(
    "partners",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    # INVITED (token A handed out) -> REGISTERED -> UNREGISTERED
    Column("status", String(20), nullable=False),
    Column("version", String(10)),
    Column("versions_url", String(255)),
    Column("version_url", String(255)),
    # Tokens the partner presents to us are kept only as SHA-256 hashes: the registration token
    # (A, or our B while we register with them) and, once registered, its token.
    Column("registration_token_hash", String(64), index=True),
    Column("token_hash", String(64), index=True),
    Column("outgoing_token", String(64)),  # the token we present to the partner (we must send it)
    Column("outgoing_encoding", String(10)),  # "base64" | "plain": how the partner wants it
    Column("roles", Text, nullable=False, default="[]"),  # JSON list of CredentialsRole
    Column("endpoints", Text, nullable=False, default="[]"),  # JSON list of Endpoint
    Column("last_error", Text),
    Column("sync_state", Text, nullable=False, default="{}"),  # JSON {module: last pull start}
    # a hub's parties, as its ClientInfo reports them: JSON list of {country_code, party_id, role,
    # status, last_updated} (and `refused`, a reason, for one we do not let it act for)
    Column("hub_parties", Text, nullable=False, default="[]"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


def _object_table(name: str, *extra) -> Table:
    """Client-owned OCPI objects, stored per owning party. `data` is the object's JSON in the
    model's (2.2.1) form; `pk` gives the stable creation order used for paging. `extra`:
    further columns and indexes of one kind of object."""
    return Table(
        name,
        metadata,
        Column("pk", PK, primary_key=True, autoincrement=True),
        Column("country_code", String(2), nullable=False),
        Column("party_id", String(3), nullable=False),
        Column("id", String(39), nullable=False),
        Column("data", Text, nullable=False),
        Column("last_updated", UTCDateTime, nullable=False),
        UniqueConstraint("country_code", "party_id", "id", name=f"uq_{name}_owner_id"),
        Index(f"ix_{name}_owner_pk", "country_code", "party_id", "pk"),
        Index(f"ix_{name}_owner_updated", "country_code", "party_id", "last_updated"),
        *extra,
    )


def _case_insensitive_ids(table: Table, column: str = "id") -> None:
    """Ids are CiStrings: looked up by lower(id) (the stored spelling is the owner's)."""
    Index(f"ix_{table.name}_owner_{column}_ci", table.c.country_code, table.c.party_id, func.lower(table.c[column]))


locations = _object_table("locations", Column("published", Boolean, nullable=False, default=False))
tariffs = _object_table("tariffs")
_case_insensitive_ids(locations)
_case_insensitive_ids(tariffs)

outbox = Table(
    "outbox",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("partner_pk", PK, nullable=False),
    Column("module", String(30), nullable=False),  # OCPI module identifier, e.g. "locations"
    Column("object_key", String(150), nullable=False),  # per-object order is kept on this key
    Column("method", String(10), nullable=False),
    Column("path", String(255), nullable=False),  # appended to the partner's module URL
    Column("body", Text),
    # pending -> delivered | failed (the partner refused it as invalid: kept for an operator)
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("last_error", Text),
    # Several nodes deliver one outbox: a node claims a message (its id and until when) before
    # sending it, so that no other node sends it too; a claim of a node that died expires.
    Column("claimed_by", String(64)),
    Column("claimed_until", UTCDateTime),
    Index("ix_outbox_pending", "status", "next_attempt_at"),
    Index("ix_outbox_object", "partner_pk", "object_key", "pk"),
)


# ---------------------------------------------------------------------------- charging (OCPP side)


def _charging_record_table(name: str) -> Table:
    """Sessions and CDRs: OCPI objects per owning party (the CPO), with the party of the token's
    eMSP beside them, so a sender lists each eMSP only its own drivers' records."""
    return _object_table(
        name,
        Column("emsp_country_code", String(2)),
        Column("emsp_party_id", String(3)),
        Index(f"ix_{name}_emsp", "country_code", "party_id", "emsp_country_code", "emsp_party_id", "pk"),
    )


sessions = _charging_record_table("sessions")
cdrs = _charging_record_table("cdrs")
_case_insensitive_ids(sessions)
_case_insensitive_ids(cdrs)

# Drivers' tokens: ours (we are the eMSP) and those eMSP partners push to us (we are the CPO).
tokens = Table(
    "tokens",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("country_code", String(2), nullable=False),
    Column("party_id", String(3), nullable=False),
    Column("uid", String(36), nullable=False),
    Column("type", String(20), nullable=False),
    Column("data", Text, nullable=False),
    Column("last_updated", UTCDateTime, nullable=False),
    UniqueConstraint("country_code", "party_id", "uid", "type", name="uq_tokens_owner_uid_type"),
    Index("ix_tokens_uid", "uid"),
    Index("ix_tokens_owner_pk", "country_code", "party_id", "pk"),
)
_case_insensitive_ids(tokens, "uid")

chargers = Table(
    "chargers",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),  # the charge point identity in the URL
    Column("password_hash", String(255)),  # scrypt with a per-charger salt; None: no password set
    # ACCEPTED | PENDING (connected unknown, waiting for an operator) | REJECTED
    Column("status", String(12), nullable=False),
    Column("location_id", String(36)),
    Column("evses", Text, nullable=False, default="{}"),  # JSON {"1": "EVSE_UID", ...}
    Column("ocpp_version", String(10)),
    Column("boot", Text),  # JSON: vendor, model, serial number, firmware of the last boot
    Column("state", Text, nullable=False, default="{}"),  # JSON: last OCPP status per EVSE number
    Column("last_seen_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per OCPP transaction: the charger's view (ids, meter readings) linked to the OCPI session.
ocpp_transactions = Table(
    "ocpp_transactions",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("charger_id", String(48), nullable=False),
    Column("transaction_id", String(64), nullable=False),  # 1.6: the integer we gave; 2.x: the charger's
    Column("start_key", String(255)),  # 1.6: what makes a resent StartTransaction the same one
    Column("evse_number", Integer, nullable=False),
    Column("connector_number", Integer, nullable=False),
    Column("id_tag", String(64)),
    Column("session_id", String(36)),  # None while no OCPI session exists (refused or not yet authorized)
    Column("status", String(12), nullable=False),  # ACTIVE | COMPLETED | REFUSED | ORPHAN
    Column("started_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime),
    Column("meter_start_wh", Float),
    Column("meter_stop_wh", Float),
    Column("state", Text, nullable=False, default="{}"),  # JSON: token, snapshots, seq numbers, pushes
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("charger_id", "transaction_id", name="uq_ocpp_transactions_charger_tx"),
    UniqueConstraint("charger_id", "start_key", name="uq_ocpp_transactions_start_key"),
    Index("ix_ocpp_transactions_session", "session_id"),
    # the running ones (few among millions): a partial index, which planners pick whatever the statistics say
    Index("ix_ocpp_transactions_active", "pk", sqlite_where=text("status = 'ACTIVE'"),
          postgresql_where=text("status = 'ACTIVE'")),
)

# Every meter reading of a transaction, once: a resent reading hits the unique key and is ignored.
ocpp_meter_values = Table(
    "ocpp_meter_values",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("transaction_pk", PK, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("measurand", String(64), nullable=False),
    Column("phase", String(10), nullable=False),  # "" when the reading is not per phase
    Column("context", String(40), nullable=False),
    Column("value", Float, nullable=False),  # normalised: Wh, W, A, percent
    UniqueConstraint("transaction_pk", "measurand", "phase", "timestamp", name="uq_ocpp_meter_values_reading"),
)

# The append-only transaction log: every OCPP frame in and out.
ocpp_log = Table(
    "ocpp_log",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("charger_id", String(48), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("direction", String(3), nullable=False),  # "in" (from the charger) | "out"
    Column("message_type", Integer),  # 2 CALL, 3 CALLRESULT, 4 CALLERROR; None: not parseable
    Column("unique_id", String(64)),
    Column("action", String(64)),
    Column("frame", Text, nullable=False),
    Index("ix_ocpp_log_charger_at", "charger_id", "at"),
    Index("ix_ocpp_log_at", "at"),
)

# Reservations made through OCPI RESERVE_NOW: the eMSP's reservation_id (a string, unique per
# eMSP party) and the integer reservationId the charger knows (this row's pk).
reservations = Table(
    "reservations",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("country_code", String(2), nullable=False),  # the eMSP party of the token
    Column("party_id", String(3), nullable=False),
    Column("reservation_id", String(36), nullable=False),
    Column("partner_pk", PK),  # the partner that asked (None: made by an operator)
    Column("charger_id", String(48), nullable=False),
    Column("evse_number", Integer),  # None: any EVSE of the charger
    Column("status", String(20), nullable=False),  # REQUESTED | ACCEPTED | REJECTED | CANCELED | ...
    Column("expiry_date", UTCDateTime, nullable=False),
    Column("data", Text, nullable=False, default="{}"),  # JSON: token, location, evse uid, reference
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("country_code", "party_id", "reservation_id", name="uq_reservations_party_id"),
)

# OCPI commands eMSPs sent us (we are the CPO), each owed a CommandResult at its response_url:
# WAITING while the charger's answer is awaited (until `deadline`, then TIMEOUT), DONE once the
# result is in the outbox. Kept afterwards as the record of commands received.
received_commands = Table(
    "received_commands",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("partner_pk", PK, nullable=False),  # the eMSP that sent it
    Column("command", String(20), nullable=False),  # CommandType
    Column("response_url", String(255), nullable=False),
    Column("charger_id", String(48)),  # None: answered without a charger
    Column("action", String(64)),  # the OCPP CALL sent to the charger
    Column("status", String(12), nullable=False),  # WAITING | DONE
    Column("result", String(24)),  # CommandResultType once DONE
    Column("message", Text),
    Column("data", Text, nullable=False, default="{}"),  # JSON: what the outcome changes (reservation, remote start)
    Column("deadline", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_received_commands_waiting", "status", "deadline"),
)

# Starts we asked a charger for (OCPI START_SESSION, an operator's start): the transaction the
# charger starts next for this idTag (or with this remoteStartId) belongs to that command.
remote_starts = Table(
    "remote_starts",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("charger_id", String(48), nullable=False),
    Column("id_tag", String(64), nullable=False),
    Column("remote_start_id", Integer),  # OCPP 2.x remoteStartId
    Column("evse_number", Integer),
    Column("authorization_reference", String(36)),
    Column("token", Text, nullable=False),  # JSON: the OCPI Token the session is for
    Column("data", Text),  # JSON: what else the session is started with (a payment terminal's start)
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_remote_starts_charger", "charger_id", "expires_at"),
)

# ---------------------------------------------------------------------------- load management

# A site: one grid connection with its capacity (kW and/or A per phase) and an optional capacity
# schedule. Chargers belong to it by their location (`location_id`), or are named in `chargers`
# (a group of chargers) or in one of its circuits.
sites = Table(
    "sites",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),  # usually the OCPI location id
    Column("location_id", String(36)),  # None: a group of chargers named in `chargers`
    Column("capacity_kw", Float),
    Column("capacity_a", Float),  # per phase
    Column("phases", Integer, nullable=False),
    Column("voltage_v", Float, nullable=False),  # phase to neutral
    Column("schedule", Text),  # JSON capacity schedule (None: the base capacity all the time)
    Column("fallback_a", Float),  # what a charger that refuses profiles is counted at (None: its maximum)
    Column("start_a", Float),  # a new session's limit until it has its own (TxDefaultProfile); None: not sent
    Column("chargers", Text, nullable=False, default="[]"),  # JSON list of charger ids on the grid connection
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Circuits inside a site (site -> circuit -> ... -> charger), each with its own limit.
circuits = Table(
    "circuits",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("site_id", String(36), nullable=False),
    Column("id", String(36), nullable=False),
    Column("parent_id", String(36)),  # None: hangs on the site's grid connection
    Column("limit_a", Float),
    Column("limit_kw", Float),
    Column("phases", Integer, nullable=False),
    Column("chargers", Text, nullable=False, default="[]"),  # JSON list of charger ids fed by this circuit
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("site_id", "id", name="uq_circuits_site_id"),
)

# Every OCPP charging profile the load manager sent (or cleared), with the charger's answer.
charging_profiles_sent = Table(
    "charging_profiles_sent",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("charger_id", String(48), nullable=False),
    Column("evse_number", Integer, nullable=False),  # 0: the whole charger
    Column("transaction_id", String(64)),
    Column("session_id", String(36)),
    Column("action", String(8), nullable=False),  # SET | CLEAR
    Column("purpose", String(12), nullable=False),  # TX (TxProfile) | MAX (charger maximum)
    Column("unit", String(1)),  # A | W
    Column("limit", Float),  # in `unit`; the per-phase current for A
    Column("limit_a", Float),  # per-phase current the limit stands for
    Column("status", String(16), nullable=False),  # Accepted | Rejected | NotSupported | Failed | Timeout | ...
    Column("sent_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime),
    Index("ix_charging_profiles_sent_charger", "charger_id", "evse_number", "pk"),
    Index("ix_charging_profiles_sent_at", "sent_at"),
)

# What the driver's eMSP asked for a session at our chargers: ChargingPreferences and a
# ChargingProfile (an upper bound inside the site's plan), and the ActiveChargingProfile we last
# pushed to it.
smart_sessions = Table(
    "smart_sessions",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("session_id", String(36), nullable=False, unique=True),
    Column("partner_pk", PK),  # the eMSP that set the profile (None: none set)
    Column("preferences", Text),  # JSON ChargingPreferences
    Column("profile", Text),  # JSON ChargingProfile set through OCPI (None: none)
    Column("profile_set_at", UTCDateTime),
    Column("active_pushed", Text),  # JSON ActiveChargingProfile last pushed to the eMSP
    Column("updated_at", UTCDateTime, nullable=False),
)

# eMSP side: our chargingprofiles requests to CPO partners and their results, and the
# ActiveChargingProfiles CPOs pushed to us (kind ACTIVE, no request id).
charging_profile_requests = Table(
    "charging_profile_requests",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("request_id", String(36), unique=True),  # in the response_url we gave; None for ACTIVE
    Column("partner_pk", PK, nullable=False),
    Column("session_id", String(36), nullable=False),
    Column("kind", String(8), nullable=False),  # SET | GET | CLEAR | ACTIVE
    Column("request", Text),  # JSON body we sent (SET) / parameters (GET)
    Column("response", Text),  # JSON ChargingProfileResponse (the CPO's direct answer)
    Column("result", Text),  # JSON result POSTed to us later, or the ActiveChargingProfile pushed
    Column("created_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime),
    Index("ix_charging_profile_requests_session", "partner_pk", "session_id", "pk"),
)

# ---------------------------------------------------------------------------- eMSP: commands sent, CDR credits

# Commands we (the eMSP) sent to a CPO partner's commands receiver, with the CPO's CommandResponse
# and the CommandResult it later POSTs to the command's response_url (which carries `id`).
remote_commands = Table(
    "remote_commands",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),  # ours, the last segment of the response_url
    Column("command", String(20), nullable=False),  # CommandType
    Column("partner_pk", PK),  # the CPO partner it went to: the only one that may post its result
    Column("partner", String(100)),  # that partner's name, for display
    Column("country_code", String(2), nullable=False),  # the CPO party of the location / session
    Column("party_id", String(3), nullable=False),
    Column("location_id", String(36)),
    Column("evse_uid", String(36)),
    Column("connector_id", String(36)),
    Column("session_id", String(36)),
    Column("reservation_id", String(36)),
    Column("token_uid", String(36)),
    Column("authorization_reference", String(36), index=True),  # echoed in the Session and CDR it starts
    # REQUESTED -> CommandResponse (ACCEPTED | REJECTED | NOT_SUPPORTED | UNKNOWN_SESSION) -> CommandResult
    # (ACCEPTED, EVSE_OCCUPIED, ..., TIMEOUT), or FAILED when the partner could not be reached
    Column("state", String(24), nullable=False),
    Column("response", Text),  # JSON CommandResponse
    Column("result", Text),  # JSON CommandResult
    Column("deadline", UTCDateTime),  # an ACCEPTED command's result is due by then (else TIMEOUT)
    Column("requested_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_remote_commands_open", "state", "deadline"),
)

# Credit CDRs received (we are the eMSP): the CDR each one cancels. One credit per CDR.
cdr_credits = Table(
    "cdr_credits",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("country_code", String(2), nullable=False),  # the CPO party owning both CDRs
    Column("party_id", String(3), nullable=False),
    Column("cdr_id", String(39), nullable=False),  # the credited (original) CDR
    Column("credit_cdr_id", String(39), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("country_code", "party_id", "cdr_id", name="uq_cdr_credits_cdr"),
    UniqueConstraint("country_code", "party_id", "credit_cdr_id", name="uq_cdr_credits_credit"),
)


# ---------------------------------------------------------------------------- eMSP role: drivers

# Our drivers (we are their eMSP): contract, limits, and the hash of their driver API key.
drivers = Table(
    "drivers",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(20), nullable=False, unique=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("email", String(255)),
    Column("status", String(12), nullable=False),  # ACTIVE | BLOCKED
    Column("contract_id", String(36), nullable=False, unique=True),  # eMAID, normalised (no dashes)
    Column("contract_end", UTCDateTime),  # None: open-ended
    Column("credit_limit", String(24)),  # Decimal as text, in the settings' currency; None: no limit
    Column("allowed_cpos", Text, nullable=False, default="[]"),  # JSON ["CC/PID", ...]; empty: everywhere
    Column("api_key_hash", String(64), unique=True),  # SHA-256 of the driver API key
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Which of our tokens belongs to which driver; `enabled` is the token's own switch (a token is
# valid when it is enabled and its driver is active). `uid_key` is the upper-cased uid (CiString).
driver_tokens = Table(
    "driver_tokens",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("driver_pk", PK, nullable=False),
    Column("uid_key", String(36), nullable=False),
    Column("type", String(20), nullable=False),
    Column("enabled", Boolean, nullable=False),
    UniqueConstraint("uid_key", "type", name="uq_driver_tokens_uid_type"),
    Index("ix_driver_tokens_driver", "driver_pk"),
)

# Sessions and CDRs of our tokens (received from CPO partners, or our own when we are the CPO
# too), indexed by driver: one row per session/CDR row (`record_pk`), `driver_pk` None when the
# token belongs to no driver.
driver_records = Table(
    "driver_records",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # "session" | "cdr"
    Column("record_pk", PK, nullable=False),
    Column("country_code", String(2), nullable=False),
    Column("party_id", String(3), nullable=False),
    Column("object_id", String(39), nullable=False),
    Column("driver_pk", PK),
    Column("token_uid", String(36)),
    Column("token_type", String(20)),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    UniqueConstraint("kind", "record_pk", name="uq_driver_records_kind_record"),
    Index("ix_driver_records_driver", "driver_pk", "kind", "started_at"),
    Index("ix_driver_records_driver_ended", "driver_pk", "kind", "ended_at"),
    Index("ix_driver_records_object", "kind", "country_code", "party_id", "object_id"),
)

# The re-pricing of every CDR received from a CPO partner: OK, DISPUTE (the CDR's total differs
# from ours by more than `dispute_threshold`), UNCHECKED (no tariff to price it with) or CREDIT.
# Money as Decimal text.
cdr_checks = Table(
    "cdr_checks",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("country_code", String(2), nullable=False),
    Column("party_id", String(3), nullable=False),
    Column("cdr_id", String(39), nullable=False),
    Column("status", String(12), nullable=False),
    Column("currency", String(3)),
    Column("tariff_id", String(36)),
    Column("claimed_excl_vat", String(24)),
    Column("claimed_incl_vat", String(24)),
    Column("computed_excl_vat", String(24)),
    Column("computed_incl_vat", String(24)),
    Column("difference", String(24)),  # claimed - computed (incl. VAT when both have it), to the cent
    Column("detail", Text),
    Column("checked_at", UTCDateTime, nullable=False),
    UniqueConstraint("country_code", "party_id", "cdr_id", name="uq_cdr_checks_cdr"),
    Index("ix_cdr_checks_status", "status", "pk"),
)


# ---------------------------------------------------------------------------- the platform

# The change feed: every change of configuration or registry (a site, a charger, a tariff ...)
# as a row, read by every node of the platform (and by a server when a command-line process
# beside it made the change). Rows are kept for an hour.
changes = Table(
    "changes",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("topic", String(40), nullable=False),
    Column("data", Text, nullable=False),
    Column("origin", String(64), nullable=False),  # the node or process that made the change
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_changes_created_at", "created_at"),
)


# ---------------------------------------------------------------------------- open data, ad-hoc payment,
# subscriptions and AFIR uptime

# Every status an EVSE of ours took, when it took it (the history AFIR uptime is computed from).
evse_status_log = Table(
    "evse_status_log",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("location_id", String(36), nullable=False),
    Column("evse_uid", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_evse_status_log_evse_at", "location_id", "evse_uid", "at"),
    Index("ix_evse_status_log_at", "at"),
)

# Planned maintenance of a charger marked by the operator: not counted against its uptime.
maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("charger_id", String(48), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_maintenance_windows_charger", "charger_id", "starts_at"),
)

# Consumers of the open data endpoints when tokens are required (`open_data_tokens`): a name and
# the SHA-256 of the token each presents.
open_data_consumers = Table(
    "open_data_consumers",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Ad-hoc payments at our EVSEs: the hold placed with the payment provider, the session it
# started, the amount captured (money in minor units of `currency`).
ad_hoc_payments = Table(
    "ad_hoc_payments",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),  # ours; also the sessions' authorization_reference
    Column("location_id", String(36), nullable=False),
    Column("evse_uid", String(36), nullable=False),
    Column("charger_id", String(48)),
    Column("evse_number", Integer),
    Column("provider", String(20), nullable=False),
    Column("provider_ref", String(255), unique=True),  # the provider's id of the hold (PaymentIntent)
    Column("currency", String(3), nullable=False),
    Column("hold_minor", BigInteger, nullable=False),
    Column("captured_minor", BigInteger),
    # NEW -> ACTION_REQUIRED -> HELD -> STARTING -> CHARGING -> CAPTURED | RELEASED; DECLINED
    Column("status", String(16), nullable=False),
    Column("token_uid", String(20), nullable=False, unique=True),  # the idTag the charger is started with
    Column("session_id", String(36), index=True),
    Column("email", String(255)),
    Column("message", Text),  # what the driver is told (why it was released ...)
    Column("data", Text, nullable=False, default="{}"),  # JSON: tariff, remote start, receipt
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_ad_hoc_payments_status", "status", "updated_at"),
)

# Subscription plans for our drivers (we are their eMSP). Money and kWh as Decimal text.
plans = Table(
    "plans",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("monthly_fee", String(24), nullable=False),  # excl. VAT
    Column("vat_rate", String(8), nullable=False),  # percent, for the fee and the plan's kWh price
    Column("included_kwh", String(24), nullable=False),
    Column("price_per_kwh", String(24)),  # excl. VAT; None: the CDR's price (with `discount_percent`)
    Column("discount_percent", String(8)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Which plan a driver has from which month (YYYY-MM) until which (exclusive; None: open-ended).
driver_plans = Table(
    "driver_plans",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("driver_pk", PK, nullable=False),
    Column("plan_id", String(36), nullable=False),
    Column("start_month", String(7), nullable=False),
    Column("end_month", String(7)),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_driver_plans_driver", "driver_pk", "start_month"),
)

# ---------------------------------------------------------------------------- the back office in the browser

# Operators' accounts: admin | operator | viewer, passwords as salted scrypt hashes only.
users = Table(
    "users",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(10), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_sign_in_at", UTCDateTime),
)

# Signed-in browsers: the SHA-256 of the session cookie, the user, the CSRF token of its forms.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_pk", PK, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("address", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_web_sessions_user", "user_pk"),
)

# Who did what: every command and change made in the back office (and accounts changed from the
# command line), with its outcome.
audit_log = Table(
    "audit_log",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(10)),
    Column("action", String(64), nullable=False),
    Column("target", String(255)),
    Column("detail", Text),
    Column("ok", Boolean, nullable=False),
    Column("outcome", Text),
    Column("address", String(64)),
    Index("ix_audit_log_at", "at"),
)

# One row per CDR we made (CPO side), in typed columns for the statistics: its local day and
# hour of week (in the location's time zone), duration, energy and money (ten-thousandths of the
# currency unit, so that sums are exact).
session_facts = Table(
    "session_facts",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("session_id", String(36), nullable=False, unique=True),
    Column("charger_id", String(48), nullable=False),
    Column("evse_number", Integer, nullable=False),
    Column("location_id", String(36)),
    Column("emsp_country_code", String(2)),
    Column("emsp_party_id", String(3)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=False),
    Column("day", String(10), nullable=False),  # YYYY-MM-DD, local
    Column("hour_of_week", Integer, nullable=False),  # 0 = Monday 00:00-01:00, local
    Column("seconds", Float, nullable=False),
    Column("kwh", Float, nullable=False),
    Column("cost_excl_vat", BigInteger, nullable=False),  # 1/10000 of the currency unit
    Column("cost_incl_vat", BigInteger),
    Column("currency", String(3), nullable=False),
    Index("ix_session_facts_day", "day", "charger_id", "seconds", "kwh"),
    Index("ix_session_facts_charger", "charger_id", "day"),
)

# The facts summed, kept with them in the same transaction, so that a year of statistics reads a
# few thousand rows: per local day, hour of week, eMSP party and currency ('' when none) ...
session_stats = Table(
    "session_stats",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("day", String(10), nullable=False),
    Column("hour_of_week", Integer, nullable=False),
    Column("emsp_country_code", String(2), nullable=False),
    Column("emsp_party_id", String(3), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("sessions", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("kwh", Float, nullable=False),
    Column("cost_excl_vat", BigInteger, nullable=False),
    Column("cost_incl_vat", BigInteger, nullable=False),  # of the sessions whose CDR says it
    Column("incl_unknown", Integer, nullable=False),  # sessions whose CDR gives no amount incl. VAT
    UniqueConstraint("day", "hour_of_week", "emsp_country_code", "emsp_party_id", "currency",
                     name="uq_session_stats_key"),
)

# ... and per charger and local month (YYYY-MM).
charger_months = Table(
    "charger_months",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False),
    Column("charger_id", String(48), nullable=False),
    Column("sessions", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("kwh", Float, nullable=False),
    UniqueConstraint("month", "charger_id", name="uq_charger_months_key"),
    Index("ix_charger_months_cover", "month", "charger_id", "sessions", "seconds", "kwh"),
)

# Each connection of a charger (connected_at .. disconnected_at; open while connected): uptime.
charger_connections = Table(
    "charger_connections",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("charger_id", String(48), nullable=False),
    Column("node", String(64)),
    Column("connected_at", UTCDateTime, nullable=False),
    Column("disconnected_at", UTCDateTime),
    Index("ix_charger_connections_charger", "charger_id", "connected_at"),
    Index("ix_charger_connections_period", "connected_at", "disconnected_at", "charger_id"),
)

# EVSEs that went out of order or inoperative (the Overview's recent faults).
charger_faults = Table(
    "charger_faults",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("charger_id", String(48)),
    Column("location_id", String(36)),
    Column("evse_uid", String(36)),
    Column("status", String(16), nullable=False),
)

# ---------------------------------------------------------------------------- OCPI payments (2.3.0)

# Payment terminals of Payment Terminal Provider partners (the PTP owns them; we assign our
# locations and EVSEs to them). A row without terminal_id is an activation we asked for and the
# PTP has not created yet (matched by `reference`). `data`: the Terminal in the model's form.
payment_terminals = Table(
    "payment_terminals",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("partner_pk", PK, nullable=False),
    Column("country_code", String(2), nullable=False),  # the PTP's party
    Column("party_id", String(3), nullable=False),
    Column("terminal_id", String(36)),
    Column("terminal_key", String(36)),  # lower(terminal_id): ids are CiStrings
    Column("reference", String(36)),
    # ACTIVATION_REQUESTED -> ACTIVE <-> DEACTIVATED
    Column("status", String(24), nullable=False),
    Column("data", Text, nullable=False),
    Column("last_updated", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("partner_pk", "terminal_key", name="uq_payment_terminals_partner_terminal"),
    Index("ix_payment_terminals_partner_reference", "partner_pk", "reference"),
)

# A driver's payment at a PTP's terminal: the START_SESSION the PTP sent with its
# authorization_reference, the session it started, the invoice we issue for it.
terminal_payments = Table(
    "terminal_payments",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("partner_pk", PK, nullable=False),
    Column("terminal_pk", PK, nullable=False),
    Column("authorization_reference", String(36), nullable=False),
    Column("reference_key", String(36), nullable=False),  # lower(authorization_reference)
    Column("location_id", String(36), nullable=False),
    Column("evse_uid", String(36), nullable=False),
    Column("invoice_reference_id", String(39)),  # when we issue the invoice (invoice_creator CPO)
    Column("session_id", String(36), index=True),
    # STARTING -> CHARGING -> COMPLETED (CDR made) -> CAPTURED | PARTIALLY_CAPTURED | CAPTURE_FAILED;
    # REFUSED (the charger refused), NOT_STARTED (accepted, but no transaction came)
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("partner_pk", "reference_key", name="uq_terminal_payments_partner_reference"),
)

# FinancialAdviceConfirmations a PTP posted: what it captured for a session (the EFT data our
# invoice shows), linked to the session by its authorization_reference.
financial_advice_confirmations = Table(
    "financial_advice_confirmations",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("partner_pk", PK, nullable=False),
    Column("country_code", String(2), nullable=False),
    Column("party_id", String(3), nullable=False),
    Column("id", String(36), nullable=False),
    Column("id_key", String(36), nullable=False),  # lower(id)
    Column("authorization_reference", String(36), nullable=False),
    Column("reference_key", String(36), nullable=False, index=True),
    Column("session_id", String(36)),  # the session (and CDR) it confirms; None: none of the PTP's
    Column("capture_status_code", String(16), nullable=False),
    Column("data", Text, nullable=False),  # the FAC in the model's form
    Column("checks", Text, nullable=False, default="{}"),  # JSON: what did not match (amount, currency ...)
    Column("last_updated", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("partner_pk", "id_key", name="uq_financial_advice_confirmations_partner_id"),
)
