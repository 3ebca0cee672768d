"""``microscout db upgrade|downgrade|current|load-spool``: the warehouse schema and spooled batches."""

from __future__ import annotations

from crawler.commands.common import database_url, fail, say
from models import DatabaseUnavailable, make_engine, mask_url, migrate


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("db", help="migrate the warehouse, load spooled batches")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    sub = parser.add_subparsers(dest="db_command", required=True)
    up = sub.add_parser("upgrade", help="apply migrations (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=upgrade)
    down = sub.add_parser("downgrade", help="revert migrations to REVISION ('base' = empty)")
    down.add_argument("revision")
    down.set_defaults(func=downgrade)
    sub.add_parser("current", help="print the current revision").set_defaults(func=current)
    spool = sub.add_parser("load-spool", help="load batches spooled while the database was down")
    spool.add_argument("--spool-dir", help="override MICROSCOUT_SPOOL_DIR")
    spool.set_defaults(func=load_spool)


def upgrade(args) -> int:
    url = database_url(args)
    try:
        migrate.upgrade(url, args.revision)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    say(f"{mask_url(url)} is at revision {migrate.current(url)}")
    return 0


def downgrade(args) -> int:
    url = database_url(args)
    try:
        migrate.downgrade(url, args.revision)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    say(f"{mask_url(url)} is at revision {migrate.current(url) or 'base'}")
    return 0


def current(args) -> int:
    url = database_url(args)
    try:
        revision = migrate.current(url)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    print(revision or "base")
    return 0


def load_spool(args) -> int:
    from scrapy.utils.project import get_project_settings

    from models.db import check_connection
    from models.spool import load_spool as load

    url = database_url(args)
    spool_dir = args.spool_dir or get_project_settings().get("MICROSCOUT_SPOOL_DIR")
    try:
        engine = make_engine(url)
        check_connection(engine)
        totals = load(engine, spool_dir)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    except ValueError as exc:
        return fail(f"spool file unreadable: {exc}")
    say(f"loaded {totals['records']} records from {totals['files']} spool files "
        f"({totals['runs']} runs) into {mask_url(url)}")
    return 0
