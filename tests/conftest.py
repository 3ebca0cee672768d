"""Shared fixtures: real-world captures, migrated SQLite and PostgreSQL warehouses, services.

PostgreSQL and Redis tests use the real services on 127.0.0.1. Outside CI they skip with the
reason when a service is absent; with CI=true an absent service is a failure, not a skip.
"""

from __future__ import annotations

import os
import socket
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The suite's crawls tag niches with the taxonomy alone: their expectations are the taxonomy's,
#: and the embedding scorer costs each crawling process 2-4 s to build its prototypes.
#: tests/test_niche_embed.py and the demo test run the default scorer with embeddings.
NICHE_EMBEDDINGS = "false"
os.environ["MICROSCOUT_NICHE_EMBEDDINGS"] = NICHE_EMBEDDINGS
#: The same for Lingua: its high-accuracy models cost every crawling process about 2 s to load.
#: tests/test_signals.py reads real captures and short texts in the default (high) mode.
LANGUAGE_ACCURACY = "low"
os.environ["MICROSCOUT_LANGUAGE_ACCURACY"] = LANGUAGE_ACCURACY
REALWORLD = REPO.parent / "shared" / "realworld"
PG_ADMIN_URL = os.environ.get("MICROSCOUT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def realworld(*parts: str) -> Path:
    """A file under ../shared/realworld; the test is skipped when the folder is absent."""
    path = REALWORLD.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real-world captures not available at {path}")
    return path


def service_available(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if service_available(host, port):
        return
    message = f"{name} is not running on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services must run; .ci/run starts them)")
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A migrated SQLite warehouse in a temporary folder."""
    from models import migrate

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def pg_server():
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return PG_ADMIN_URL


@contextmanager
def make_pg_database(admin_url: str):
    """A new, empty PostgreSQL database (its URL), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"microscout_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_empty_url(pg_server):
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    with make_pg_database(pg_server) as url:
        yield url


@pytest.fixture
def pg_url(pg_empty_url) -> str:
    """A migrated PostgreSQL warehouse for one test."""
    from models import migrate

    migrate.upgrade(pg_empty_url)
    return pg_empty_url


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request) -> str:
    """The same test on a migrated SQLite and a migrated PostgreSQL warehouse."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")
