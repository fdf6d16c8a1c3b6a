"""Alembic environment: runs on the connection handed over by boda.core.migrate."""

from alembic import context

from boda.core.apps import load_models
from boda.core.db import Base, schema_filter

load_models()
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
    compare_type=True,
    include_object=schema_filter(connection.dialect.name),  # one engine's own indexes
)
with context.begin_transaction():
    context.run_migrations()
