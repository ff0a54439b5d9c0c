"""OCPI 2.1.1, still the most deployed version: one module per object (see each for its rules)."""

from evroam.ocpi.mappings import base
from evroam.ocpi.mappings.base import Mapping
from evroam.ocpi.mappings.v2_1_1 import commands, credentials, locations, pushes, records, tariffs, tokens

VERSION = "2.1.1"
MAPPING = Mapping(
    VERSION,
    {
        base.LOCATION: locations.LOCATION, base.EVSE: locations.EVSE, base.CONNECTOR: locations.CONNECTOR,
        base.LOCATION_PATCH: locations.LOCATION_PATCH, base.EVSE_PATCH: locations.EVSE_PATCH,
        base.CONNECTOR_PATCH: locations.CONNECTOR_PATCH,
        base.TARIFF: tariffs.TARIFF, base.TARIFF_PATCH: tariffs.TARIFF_PATCH,
        base.TOKEN: tokens.TOKEN, base.TOKEN_PATCH: tokens.TOKEN_PATCH,
        base.AUTHORIZATION_INFO: tokens.AUTHORIZATION_INFO, base.LOCATION_REFERENCES: tokens.LOCATION_REFERENCES,
        base.SESSION: records.SESSION, base.SESSION_PATCH: records.SESSION_PATCH, base.CDR: records.CDR,
        base.COMMAND: commands.COMMAND, base.COMMAND_RESPONSE: commands.COMMAND_RESPONSE,
        base.COMMAND_RESULT: commands.COMMAND_RESULT,
        base.CREDENTIALS: credentials.CREDENTIALS, base.VERSION_DETAILS: credentials.VERSION_DETAILS,
        # the payments module is 2.3.0's: its Terminals and FinancialAdviceConfirmations cannot be said
        **{kind: base.unsaid(f"OCPI {VERSION} has no payments module") for kind in base.PAYMENTS_KINDS},
    },
    refusals={base.TARIFF: tariffs.refusals},
    token_types={"OTHER": ("OTHER", "APP_USER", "AD_HOC_USER", "EMAID")},
    pushes={base.SESSION_PATCH: pushes.session_patch, base.TOKEN: pushes.token_put},
)
