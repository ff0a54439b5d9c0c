"""Alembic environment: evroam passes its own connection (see Store.migrate)."""

from alembic import context

from evroam.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through evroam (evroam serve / Store.migrate), not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
