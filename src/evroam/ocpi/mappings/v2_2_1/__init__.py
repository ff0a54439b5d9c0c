"""OCPI 2.2.1, the version the model is shaped like: the identity inbound; outbound, what 2.3.0
added to the model is left out (see each module)."""

from evroam.ocpi.mappings import base
from evroam.ocpi.mappings.base import Mapping
from evroam.ocpi.mappings.v2_2_1 import commands, locations, records, tariffs, tokens

VERSION = "2.2.1"
MAPPING = Mapping(
    VERSION,
    {
        base.LOCATION: locations.LOCATION, base.EVSE: locations.EVSE, base.CONNECTOR: locations.CONNECTOR,
        base.LOCATION_PATCH: locations.LOCATION_PATCH, base.EVSE_PATCH: locations.EVSE_PATCH,
        base.CONNECTOR_PATCH: locations.CONNECTOR_PATCH,
        base.TARIFF: tariffs.TARIFF,
        base.TOKEN: tokens.TOKEN, base.TOKEN_PATCH: tokens.TOKEN_PATCH,
        base.AUTHORIZATION_INFO: tokens.AUTHORIZATION_INFO,
        base.SESSION: records.SESSION, base.SESSION_PATCH: records.SESSION_PATCH, base.CDR: records.CDR,
        base.COMMAND: commands.COMMAND,
        # the payments module is 2.3.0's: its Terminals and FinancialAdviceConfirmations cannot be said
        **{kind: base.unsaid(f"OCPI {VERSION} has no payments module") for kind in base.PAYMENTS_KINDS},
    },
    markers={
        base.LOCATION: locations.MARKERS, base.EVSE: locations.MARKERS, base.CONNECTOR: locations.MARKERS,
        base.TARIFF: tariffs.MARKERS, base.TOKEN: tokens.MARKERS,
        base.SESSION: records.MARKERS, base.CDR: records.MARKERS,
    },
    refusals={base.TARIFF: tariffs.refusals},
    token_types={"OTHER": ("OTHER", "EMAID")},
)
