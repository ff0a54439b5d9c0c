"""DATEX II v3 energy infrastructure publications (the AFIR profile) of our published locations:
the static table (sites, stations, charging points, connectors, ad-hoc prices) and the status
publication (each charging point's live status), as XML valid against the official DATEX II
3.7 schemas kept in `schema/`."""

from evroam.public.datex2.publications import (
    PROFILE_NAME,
    PROFILE_VERSION,
    status_publication,
    table_publication,
    to_bytes,
)
from evroam.public.datex2.validation import DatexInvalid, validate

__all__ = ["PROFILE_NAME", "PROFILE_VERSION", "DatexInvalid", "status_publication", "table_publication", "to_bytes",
           "validate"]
