"""Alembic environment: the URL comes from the caller's config or from crawler.settings."""

from __future__ import annotations

from alembic import context

from models.db import make_engine
from models.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from crawler import settings  # the one place environment variables are read

    return settings.MICROSCOUT_DATABASE_URL


def _include_object(obj, name, type_, reflected, compare_to):
    # Views are created by migrations with plain SQL; autogenerate must not see them as tables.
    return not (type_ == "table" and reflected and compare_to is None and name in _views())


def _views() -> set[str]:
    from models.views import VIEWS

    return set(VIEWS)


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch operations recreate tables; with foreign keys on, dropping the old table
            # would cascade-delete the rows that reference it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=_include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
