"""The OCPI versions evroam can speak, highest first. Version differences live in the mappings."""

SUPPORTED_VERSIONS: tuple[str, ...] = ("2.2.1",)
