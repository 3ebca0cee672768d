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


def fail(message: str, code: int = 2) -> int:
    print(f"microscout: error: {message}", file=sys.stderr)
    return code


def say(message: str) -> None:
    print(message, file=sys.stderr)
