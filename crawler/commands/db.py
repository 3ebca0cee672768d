"""``microscout db upgrade|downgrade|current|load-spool|purge-raw``: schema, spooled batches, retention."""

from __future__ import annotations

import argparse
from pathlib import Path

from crawler.commands.common import database_error, database_errors, database_url, fail, project_settings, say


def add_parser(subparsers) -> None:
    # --database-url is accepted before and after the sub-command (``db --database-url URL upgrade``
    # and ``db upgrade --database-url URL``); SUPPRESS keeps the sub-command from resetting it.
    url_option = argparse.ArgumentParser(add_help=False)
    url_option.add_argument("--database-url", default=argparse.SUPPRESS,
                            help="override MICROSCOUT_DATABASE_URL")
    parser = subparsers.add_parser("db", help="migrate the warehouse, load spooled batches")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    sub = parser.add_subparsers(dest="db_command", required=True)
    up = sub.add_parser("upgrade", parents=[url_option], help="apply migrations (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=upgrade)
    down = sub.add_parser("downgrade", parents=[url_option],
                          help="revert migrations to REVISION ('base' = empty)")
    down.add_argument("revision")
    down.set_defaults(func=downgrade)
    sub.add_parser("current", parents=[url_option],
                   help="print the current revision").set_defaults(func=current)
    spool = sub.add_parser("load-spool", parents=[url_option],
                           help="load batches spooled while the database was down")
    spool.add_argument("--spool-dir", help="override MICROSCOUT_SPOOL_DIR")
    spool.set_defaults(func=load_spool)
    add_purge_raw_parser(sub, url_option)


def upgrade(args) -> int:
    from models import mask_url, migrate
    url = database_url(args)
    try:
        migrate.upgrade(url, args.revision)
        revision = migrate.current(url)
    except database_errors() as exc:
        return database_error(url, exc)
    say(f"{mask_url(url)} is at revision {revision or 'base'}")
    return 0


def downgrade(args) -> int:
    from models import mask_url, migrate
    url = database_url(args)
    try:
        migrate.downgrade(url, args.revision)
        revision = migrate.current(url)
    except database_errors() as exc:
        return database_error(url, exc)
    say(f"{mask_url(url)} is at revision {revision or 'base'}")
    return 0


def current(args) -> int:
    from models import migrate
    url = database_url(args)
    try:
        revision = migrate.current(url)
    except database_errors() as exc:
        return database_error(url, exc)
    print(revision or "base")
    return 0


def load_spool(args) -> int:
    """Load the spooled batches, then bring each spooled run's crawl_runs row up to date: its
    items_loaded, and its status recomputed with the spool check marked completed by load-spool."""
    from models import mask_url, migrate
    from models.db import connected
    from models.spool import load_spool as load
    from models.spool import spool_files
    from pipelines.monitor import complete_after_load_spool

    url = database_url(args)
    # project_settings(), not get_project_settings(): outside the repository (no scrapy.cfg)
    # the latter does not find crawler/settings.py and has no MICROSCOUT_SPOOL_DIR.
    settings = project_settings()
    if args.spool_dir:
        spool_dir = Path(args.spool_dir)
        if not spool_dir.is_dir():
            return fail(f"no spool directory {spool_dir}")
    else:
        spool_dir = Path(settings.get("MICROSCOUT_SPOOL_DIR"))
    try:
        timeouts = {"connect_timeout": settings.getfloat("MICROSCOUT_DB_CONNECT_TIMEOUT") or None,
                    "statement_timeout": settings.getfloat("MICROSCOUT_DB_STATEMENT_TIMEOUT") or None}
    except ValueError as exc:
        return fail(f"MICROSCOUT_DB_CONNECT_TIMEOUT / MICROSCOUT_DB_STATEMENT_TIMEOUT: {exc}")
    try:
        if spool_files(spool_dir):
            migrate.upgrade(url)  # as `sweep` does: the spooled runs need the current tables
        with connected(url, **timeouts) as engine:
            totals = load(engine, spool_dir, complete=complete_after_load_spool)
    except ValueError as exc:
        return fail(f"spool file unreadable: {exc}")
    except database_errors() as exc:
        return database_error(url, exc)
    say(f"loaded {totals['records']} records from {totals['files']} spool files "
        f"({totals['runs']} runs) into {mask_url(url)}")
    return 0


# --- purge-raw: the retention of raw quarantine payloads -----------------------------------------


def add_purge_raw_parser(sub, url_option) -> None:
    purge = sub.add_parser("purge-raw", parents=[url_option],
                           help="clear raw quarantine payloads older than the retention "
                                "(MICROSCOUT_RAW_RETENTION_DAYS); rows and reasons stay")
    purge.add_argument("--days", help="retention in days (default: MICROSCOUT_RAW_RETENTION_DAYS)")
    purge.set_defaults(func=purge_raw)


def purge_raw(args) -> int:
    from models import mask_url
    from models.db import connected
    from models.erasure import purge_raw as purge
    from models.erasure import retention_days

    url = database_url(args)
    try:
        if args.days is not None:
            days = retention_days(args.days, "--days")
        else:
            days = retention_days(project_settings().get("MICROSCOUT_RAW_RETENTION_DAYS"))
    except ValueError as exc:
        return fail(exc)
    if days is None:
        return fail("no retention set: give --days N or set MICROSCOUT_RAW_RETENTION_DAYS")
    try:
        with connected(url) as engine, engine.begin() as conn:
            cleared = purge(conn, days)
    except database_errors() as exc:
        return database_error(url, exc)
    say(f"cleared the raw payload of {cleared} quarantine row{'' if cleared == 1 else 's'} older than "
        f"{days} days in {mask_url(url)}")
    return 0
