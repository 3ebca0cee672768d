"""Helpers shared by the sub-commands: settings, the database URL, one-line errors."""

from __future__ import annotations

import os
import sys


def project_settings(overrides: dict | None = None):
    """The project's Scrapy settings (crawler/settings.py), with command-line overrides."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def database_url(args) -> str:
    return getattr(args, "database_url", None) or project_settings().get("MICROSCOUT_DATABASE_URL")


def one_line(message: object) -> str:
    """``message`` on one line: exception texts (SQL errors, YAML marks) often span several."""
    lines = [line.strip() for line in str(message).splitlines()]
    return " ".join(line for line in lines if line) or type(message).__name__


def fail(message: object, code: int = 2) -> int:
    """Print ``microscout: error: MESSAGE`` as exactly one line on stderr; return ``code``."""
    print(f"microscout: error: {one_line(message)}", file=sys.stderr)
    return code


def say(message: str) -> None:
    print(message, file=sys.stderr)
