"""Parsers: items per second of each platform's ``parse_document`` on its real captured pages,
next to the time the bare decode takes on the same bytes.

Every file under ``../shared/realworld/<platform>/`` (skipped when the folder is absent; vcrpy
cassettes are split into their recorded responses, as ``microscout parse`` does) is parsed with
``crawler.parsers.<platform>.parse_document``. The bare decode is ``json.loads`` for JSON bodies,
``lxml.html.fromstring`` for HTML pages and ``chompjs.parse_js_objects`` for the one TikTok file of
JavaScript object literals. Items are the parser's top-level items plus the recent posts inside
ProfileItems. Each body is timed as the best of 3 rounds of enough repetitions to last ~50 ms
(best-of: the machine is shared), and the figures are summed per platform. The ratio is parser
time / decode time: how much the parsing adds on top of reading the bytes.

    python -m benchmarks.parsers [--min-time 0.05]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import REALWORLD, Row, print_table, say

PLATFORMS = ("mastodon", "pixelfed", "bluesky", "instagram", "tiktok", "youtube")


@dataclass
class Document:
    platform: str
    name: str
    body: str | bytes
    url: str | None
    headers: dict | None


def documents(root: Path = REALWORLD) -> list[Document]:
    from crawler.commands.parse import documents as split

    found = []
    for platform in PLATFORMS:
        folder = root / platform
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            for body, url, headers in split(path, None):
                found.append(Document(platform, path.name, body, url, headers))
    return found


def decoder(body: str | bytes) -> tuple[str, Callable[[], object]]:
    """(name, function) of the bare decode for this body."""
    try:
        json.loads(body)
        return "json", lambda: json.loads(body)
    except ValueError:
        pass
    head = (body[:200].decode("utf-8", "replace") if isinstance(body, bytes) else body[:200]).lstrip()
    if head.startswith("<"):
        import lxml.html

        return "lxml", lambda: lxml.html.fromstring(body)
    import chompjs

    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return "chompjs", lambda: list(chompjs.parse_js_objects(text))


def best_time(fn: Callable[[], object], min_time: float) -> float:
    """Seconds per call: best of 3 rounds of enough calls to last ``min_time``."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    reps = max(1, int(min_time / once))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def count_items(items: list) -> int:
    return sum(1 + len(getattr(item, "recent_posts", None) or ()) for item in items)


def run(min_time: float = 0.05, root: Path = REALWORLD) -> list[Row]:
    from crawler.parsers import BlockedPage, UnrecognisedDocument, parser_for

    docs = documents(root)
    if not docs:
        say(f"no real-world captures at {root}: parser benchmark skipped")
        return [Row("parsers", f"no captures at {root}", None, note="skipped")]
    totals: dict[str, dict] = {}
    for doc in docs:
        module = parser_for(doc.platform)
        def parse(doc: Document = doc, module=module) -> list:
            return module.parse_document(doc.body, url=doc.url, headers=doc.headers)
        try:
            items = parse()
        except (UnrecognisedDocument, BlockedPage):
            continue  # e.g. a cassette's instance-info response: no data to parse
        if not items:
            continue
        kind, decode = decoder(doc.body)
        entry = totals.setdefault(doc.platform, {"files": set(), "bodies": 0, "bytes": 0, "items": 0,
                                                 "parse": 0.0, "decode": 0.0, "kinds": set()})
        entry["files"].add(doc.name)
        entry["bodies"] += 1
        entry["bytes"] += len(doc.body)
        entry["items"] += count_items(items)
        entry["parse"] += best_time(parse, min_time)
        entry["decode"] += best_time(decode, min_time)
        entry["kinds"].add(kind)
    rows = []
    for platform, t in totals.items():
        ratio = t["parse"] / t["decode"]
        rows.append(Row(
            "parsers", f"{platform}: {len(t['files'])} files, {t['bodies']} bodies, "
            f"{t['bytes'] / 1024:,.0f} KiB, {t['items']} items",
            t["items"] / t["parse"], t["items"] / t["decode"], "items/s", ratio, "",
            None, f"parse/decode ({'+'.join(sorted(t['kinds']))}): "
            f"{t['parse'] * 1000:.2f} ms vs {t['decode'] * 1000:.2f} ms"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-time", type=float, default=0.05,
                        help="seconds each timing round lasts at least (default 0.05)")
    parser.add_argument("--root", type=Path, default=REALWORLD, help="the real-world captures")
    args = parser.parse_args(argv)
    print_table("Parsers on real captures: parse_document vs the bare decode of the same bytes",
                run(args.min_time, args.root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
