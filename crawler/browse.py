"""Datasette metadata for the SQLite warehouse: ``microscout browse``.

Table and column descriptions come from the comments in models/tables.py, the analytics views'
from models/descriptions.py (which PostgreSQL gets as COMMENTs too). The README's example queries
(models/examples.py) become canned queries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models.descriptions import VIEW_DESCRIPTIONS, describe_view_column
from models.examples import EXAMPLE_QUERIES
from models.tables import Base
from models.views import VIEWS

TITLE = "microscout warehouse"
DESCRIPTION = (
    "Social-media accounts found and tracked by microscout. Start from the views: influencer_current "
    "(one row per account: latest followers, engagement, tier, primary niche, audience quality), "
    "micro_influencers (its micro tier), creator_reach (one creator's accounts across platforms) and "
    "profile_growth (follower and engagement change over 7 and 30 days). The tables keep the history; "
    "every table and column is described, and the README's example queries are listed below."
)

FACETS = ("platform", "tier", "primary_niche")
EXTRA_FACETS = {"crawl_runs": ("spider", "status"), "rejected_items": ("reason",),
                "profile_niches": ("niche",)}
# Newest or largest first; only on indexed columns or the views (computed whole anyway).
SORT_DESC = {"influencer_current": "followers", "micro_influencers": "followers",
             "profile_growth": "followers", "creator_reach": "total_followers",
             "crawl_runs": "id", "rejected_items": "id"}
# What Datasette shows for a foreign key to these tables.
LABEL_COLUMNS = {"profiles": "handle", "hashtags": "tag", "creators": "display_name"}
# Each page of a view computes it whole: at 50,000 accounts about 0.4 s a query, past Datasette's
# default limits (1 s a page, 0.2 s a facet), and facet suggestions would try every column.
SETTINGS: dict[str, int | bool] = {"sql_time_limit_ms": 5000, "facet_time_limit_ms": 1000,
                                   "suggest_facets": False}


def database_name(path: Path) -> str:
    """The name Datasette gives the file (its stem): the key of its metadata and its URL."""
    return path.stem


def read_view_columns(path: Path) -> dict[str, list[str]]:
    """The columns of the analytics views the file has, read without writing (or creating) it.

    sqlite3.DatabaseError when the file is not a SQLite database.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
        return {view: [row[1] for row in conn.execute(f'PRAGMA table_info("{view}")')]
                for view in VIEWS if view in present}
    finally:
        conn.close()


def _facets(name: str, columns: Sequence[str]) -> list[str]:
    wanted = [c for c in FACETS if c in columns and not (name == "micro_influencers" and c == "tier")]
    return wanted + list(EXTRA_FACETS.get(name, ()))


def _presentation(name: str, columns: Sequence[str]) -> dict[str, Any]:
    """facets, sort_desc and label_column of one table or view, where it has them."""
    shown: dict[str, Any] = {}
    if facets := _facets(name, columns):
        shown["facets"] = facets
    if name in SORT_DESC:
        shown["sort_desc"] = SORT_DESC[name]
    if name in LABEL_COLUMNS:
        shown["label_column"] = LABEL_COLUMNS[name]
    return shown


def table_metadata() -> dict[str, dict[str, Any]]:
    """Every table of models/tables.py: its comment and its columns' comments."""
    tables = {}
    for table in Base.metadata.sorted_tables:
        columns = {column.name: column.comment for column in table.columns if column.comment}
        tables[table.name] = {"description": table.comment or "", "columns": columns,
                              **_presentation(table.name, [c.name for c in table.columns])}
    return tables


def view_metadata(view_columns: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Any]]:
    """The analytics views present (name -> their columns, as :func:`read_view_columns` reads them)."""
    return {view: {"description": VIEW_DESCRIPTIONS[view],
                   "columns": {c: text for c in columns if (text := describe_view_column(view, c))},
                   **_presentation(view, columns)}
            for view, columns in view_columns.items()}


def canned_queries() -> dict[str, dict[str, str]]:
    """The README's example queries, titled by their comment."""
    return {ex.slug: {"title": ex.title, "sql": ex.sql} for ex in EXAMPLE_QUERIES}


def setting_options() -> list[str]:
    """:data:`SETTINGS` as ``datasette serve`` options."""
    options = []
    for name, value in SETTINGS.items():
        options += ["--setting", name, ("on" if value else "off") if isinstance(value, bool) else str(value)]
    return options


def build_metadata(database: str, view_columns: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Datasette metadata for the warehouse that Datasette names ``database``."""
    tables = {**table_metadata(), **view_metadata(view_columns),
              "alembic_version": {"hidden": True}}
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "databases": {database: {"description": DESCRIPTION, "tables": tables,
                                 "queries": canned_queries()}},
    }
