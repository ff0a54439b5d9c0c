"""The version-neutral domain model. Pure data and validation: no I/O, no framework code.

Objects are shaped like OCPI 2.2.1 (the primary version); the OCPI version mappings in
`evroam.ocpi.mappings` translate to and from the other versions' wire formats.
"""
