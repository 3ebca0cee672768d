"""``microscout forget PLATFORM HANDLE``: erase an account and keep it out of every later crawl."""

from __future__ import annotations

from crawler.commands.common import database_error, database_errors, database_url, fail, missing_sqlite_file
from crawler.platforms import NAMES, REGISTRY


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "forget", help="erase an account (GDPR/CCPA request) and never load it again",
        description="Delete every row about an account (profile, snapshots, niche scores, posts, "
                    "sightings, quarantine rows naming it) in one transaction, and add it to the "
                    "suppression list that every later crawl honours.")
    parser.add_argument("platform", choices=NAMES)
    parser.add_argument("handle", help="the account's handle (user@instance on Mastodon and Pixelfed), "
                                       "profile URL, or platform id (Bluesky DID, YouTube channel id)")
    parser.add_argument("--reason", help="why, kept with the suppression (e.g. the request's reference)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be deleted, per table; change nothing")
    parser.add_argument("--database-url", help="override MICROSCOUT_DATABASE_URL")
    parser.set_defaults(func=run)


def run(args) -> int:
    from crawler.values import normalize_handle

    handle = normalize_handle(args.handle, args.platform)
    if not handle:
        return fail(f"{args.handle!r} is not a handle")
    if REGISTRY[args.platform].federated and "@" not in handle:
        return fail(f"{args.platform} handles are user@instance: {args.handle!r} names no instance")
    from models import mask_url

    url = database_url(args)
    if args.dry_run and missing_sqlite_file(url):
        return fail(f"no warehouse at {mask_url(url)}")
    try:
        counts = erase(url, args.platform, handle, args.reason, args.dry_run)
    except database_errors() as exc:
        return database_error(url, exc)
    print(report(args.platform, handle, counts, args.dry_run))
    return 0


def erase(url: str, platform: str, handle: str, reason: str | None, dry_run: bool) -> dict[str, int]:
    from models import erasure, migrate
    from models.db import connected

    if not dry_run:
        migrate.upgrade(url)  # the suppression list must exist; a dry run changes nothing
    with connected(url) as engine:
        return erasure.forget(engine, platform, handle, reason=reason, dry_run=dry_run)


def report(platform: str, handle: str, counts: dict[str, int], dry_run: bool) -> str:
    width = max(len(name) for name in [*counts, "total"]) + 2
    lines = [f"dry run, nothing changed: forgetting {platform} {handle} would delete" if dry_run
             else f"forgot {platform} {handle}: deleted"]
    lines += [f"  {name:<{width}}{count:>8}" for name, count in counts.items()]
    lines.append(f"  {'total':<{width}}{sum(counts.values()):>8}")
    lines.append(("and add it to" if dry_run else "added to")
                 + " suppressed_accounts: no later crawl loads it")
    return "\n".join(lines)
