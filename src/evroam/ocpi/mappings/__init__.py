"""One mapping per OCPI version: the version's wire format <-> the version-neutral model.

The model is shaped like OCPI 2.2.1 and holds what 2.3.0 adds (Parking, help_phone, taxes ...).
`v2_2_1` is therefore the identity inbound and leaves the 2.3.0 additions out outbound; `v2_3_0`
translates prices and taxes; `v2_1_1` translates nearly everything. Each version is a package
with one module per object; these modules are pure (no I/O): what they must look up (the
Location a 2.1.1 Session embeds, the token behind a 2.1.1 `auth_id`) they ask the context's
lookups for. The registry (`evroam.ocpi.registry`) pairs each version with its mapping."""

from evroam.ocpi.mappings.base import IDENTITY, CannotSay, Context, Lookups, Mapping, ObjectMapping

__all__ = ["IDENTITY", "CannotSay", "Context", "Lookups", "Mapping", "ObjectMapping"]
