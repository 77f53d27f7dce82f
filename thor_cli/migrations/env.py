"""Alembic environment: Thor always hands in an open connection (see ``thor_cli.store.schema``)."""

from alembic import context
from sqlmodel import SQLModel

import thor_cli.store.models  # noqa: F401  (registers the tables)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
