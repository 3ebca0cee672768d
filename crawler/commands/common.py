"""Helpers shared by the sub-commands: settings, the database URL, one-line errors."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from crawler.settings_check import SettingError, check_database_url


def project_settings(overrides: dict | None = None):
    """The project's Scrapy settings (crawler/settings.py), with command-line overrides."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def database_url(args) -> str:
    """--database-url or MICROSCOUT_DATABASE_URL; SettingError (one line, password masked) when
    SQLAlchemy cannot use it (``microscout`` prints it and exits 2)."""
    url = getattr(args, "database_url", None) or project_settings().get("MICROSCOUT_DATABASE_URL")
    try:
        return check_database_url(url)
    except SettingError as exc:
        given = "--database-url" if getattr(args, "database_url", None) else "MICROSCOUT_DATABASE_URL"
        raise SettingError(f"{given}: {exc}") from None


def missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL that does not exist (connecting would create it empty); None for
    any other URL, an in-memory database or an existing file."""
    from sqlalchemy.exc import ArgumentError

    from models.db import sqlite_file

    try:
        path = sqlite_file(url)
    except (ArgumentError, ValueError):  # not SQLite; make_engine reports a bad URL
        return None
    return path.resolve() if path is not None and not path.is_file() else None


def check_writable(path: str | Path, what: str, *, folder: bool = False) -> None:
    """Refuse, before anything runs, a file (or with ``folder`` a folder) that cannot be created:
    under a file or a read-only folder, or a directory where a file is wanted. Creates nothing."""
    target = Path(path).expanduser()
    if not folder and target.is_dir():
        raise SettingError(f"{what}: {target} is a directory, not a file")
    existing = target if folder else target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SettingError(f"{what}: cannot write under {existing}: not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):  # the honest test (root ignores modes)
            pass
    except OSError as exc:
        raise SettingError(f"{what}: cannot write in {existing}: {exc.strerror or exc}") from None


def one_line(message: object) -> str:
    """``message`` on one line: exception texts (SQL errors, YAML marks) often span several."""
    lines = [line.strip() for line in str(message).splitlines()]
    return " ".join(line for line in lines if line) or type(message).__name__


def set_pairs(pairs: list[str], option: str = "--set") -> dict[str, str]:
    """``--set NAME=VALUE`` options as a dict; ValueError on one without ``=``."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"{option} takes NAME=VALUE, got {pair!r}")
        values[name] = value
    return values


def fail(message: object, code: int = 2) -> int:
    """Print ``microscout: error: MESSAGE`` as exactly one line on stderr; return ``code``."""
    print(f"microscout: error: {one_line(message)}", file=sys.stderr)
    return code


def database_errors() -> tuple[type[Exception], ...]:
    """What can go wrong once the URL is known, each reported as one line (password masked)."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from models import DatabaseUnavailable

    return (DatabaseUnavailable, CommandError, SQLAlchemyError, OSError)


def database_error(url: str, exc: Exception) -> int:
    """One line (exit 2) for an error of :func:`database_errors`."""
    from sqlalchemy.exc import SQLAlchemyError

    from models import DatabaseUnavailable, mask_url

    if isinstance(exc, DatabaseUnavailable):  # already names the masked URL
        return fail(exc)
    if isinstance(exc, OSError):  # e.g. the folder of a SQLite file cannot be created
        what = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else exc
        return fail(f"cannot use {mask_url(url)}: {what}")
    if isinstance(exc, SQLAlchemyError):
        reason = getattr(exc, "orig", None) or exc
        return fail(f"{mask_url(url)}: {type(reason).__name__}: {reason}")
    return fail(f"{mask_url(url)}: {exc}")  # alembic: unknown revision, relative step too far


def say(message: str) -> None:
    print(message, file=sys.stderr)
