"""OCPI 2.3.0 (AFIR): the model holds what 2.3.0 added to locations and tokens (Parking,
help_phone, ISO 15118 capabilities, EMAID), so those pass unchanged; prices, taxes and tariffs'
price limits are translated, and a hub names itself in `hub_party_id`. The payments module's
Terminal and FinancialAdviceConfirmation exist in 2.3.0 only (payments.py)."""

from evroam.ocpi.mappings import base
from evroam.ocpi.mappings.base import Mapping
from evroam.ocpi.mappings.v2_3_0 import credentials, payments, records, tariffs

MAPPING = Mapping(
    "2.3.0",
    {
        base.TARIFF: tariffs.TARIFF,
        base.SESSION: records.SESSION, base.SESSION_PATCH: records.SESSION_PATCH, base.CDR: records.CDR,
        base.CREDENTIALS: credentials.CREDENTIALS,
        base.TERMINAL: payments.TERMINAL, base.TERMINAL_PATCH: payments.TERMINAL_PATCH,
        base.FINANCIAL_ADVICE: payments.FINANCIAL_ADVICE,
    },
)
