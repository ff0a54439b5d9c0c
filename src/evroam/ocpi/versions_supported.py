"""The OCPI versions evroam can speak, highest first. Version differences live in the mappings."""

SUPPORTED_VERSIONS: tuple[str, ...] = ("2.2.1",)


def check_offered(versions: list[str]) -> None:
    """The `ocpi_versions` setting names only versions evroam speaks (ValueError otherwise)."""
    unknown = [v for v in versions if v not in SUPPORTED_VERSIONS]
    if unknown:
        raise ValueError(f"ocpi_versions: {unknown} not supported (choose from {sorted(SUPPORTED_VERSIONS)})")
