"""``microscout parse PLATFORM FILE``: read a saved page, JSON body or vcrpy cassette, print items."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from pathlib import Path

from crawler.commands.common import fail, project_settings


def add_parser(subparsers) -> None:
    from crawler.parsers import PARSER_MODULES
    parser = subparsers.add_parser(
        "parse", help="parse a saved page, JSON body or vcrpy cassette and print its items",
        description="Detect what FILE holds, parse it with PLATFORM's parsers, run the items through "
                    "validate/normalise/engagement/tier/niche and print one JSON object per line.")
    parser.add_argument("platform", choices=sorted(PARSER_MODULES))
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", help="the URL the body came from (helps detection)")
    parser.add_argument("--raw", action="store_true", help="print the parser's items without the pipelines")
    parser.set_defaults(func=run)


def documents(path: Path, url: str | None):
    """(body, url, headers) for a plain file, or one per recorded response of a cassette."""
    from crawler.parsers import UnrecognisedDocument
    data = path.read_bytes()
    head = data[:200].lstrip()
    if path.suffix in (".yaml", ".yml") or head.startswith(b"interactions:"):
        import yaml

        try:
            cassette = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise UnrecognisedDocument(f"not valid YAML{where}: {problem}") from None
        if not isinstance(cassette, dict) or not isinstance(cassette.get("interactions"), list):
            raise UnrecognisedDocument("a YAML file that is not a vcrpy cassette")
        for number, interaction in enumerate(cassette["interactions"], 1):
            yield recorded(interaction, number)
    else:
        yield data, url, None


def recorded(interaction, number: int) -> tuple[str | bytes, str | None, dict]:
    """(body, url, headers) of one cassette interaction; UnrecognisedDocument when it is not
    shaped as vcrpy writes it (a hand-edited or damaged cassette)."""
    from crawler.parsers import UnrecognisedDocument

    def malformed(what: str) -> UnrecognisedDocument:
        return UnrecognisedDocument(f"a vcrpy cassette whose interaction {number} {what}")

    if not isinstance(interaction, dict):
        raise malformed("is not a mapping")
    request = interaction.get("request") or {}
    response = interaction.get("response") or {}
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise malformed("has a request or response that is not a mapping")
    body = response.get("body") or {}
    if not isinstance(body, dict):
        raise malformed("has a body that is not a mapping")
    text = body.get("string")
    if text is None:
        text = ""
    if not isinstance(text, (str, bytes)):
        raise malformed(f"has a body string of type {type(text).__name__}, not text")
    uri = request.get("uri")
    if uri is not None and not isinstance(uri, str):
        raise malformed("has a request uri that is not text")
    headers = response.get("headers") or {}
    if not isinstance(headers, dict):
        raise malformed("has headers that are not a mapping")
    first = {str(k): v[0] if isinstance(v, list) and v else v for k, v in headers.items()}
    return text, uri, {k: v for k, v in first.items() if isinstance(v, str)}


def as_json(item) -> dict:
    record = {"_type": type(item).__name__}
    for field in fields(item):
        value = getattr(item, field.name)
        if isinstance(value, list):
            value = [as_json(v) if is_dataclass(v) else v for v in value]
        record[field.name] = value
    return record


def json_value(value):
    """JSON for what items hold besides JSON types: ISO 8601 times, decoded bytes."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _stdout_closed() -> None:
    """The reader went away (``microscout parse ... | head``): silence the final flush."""
    try:
        fileno = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation: pytest's capture
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fileno)
    finally:
        os.close(devnull)


def parse_one(module, body, url: str | None, headers: dict | None) -> list:
    """The parser's items for one body; a body nested too deep to read is unrecognised."""
    from crawler.parsers import UnrecognisedDocument

    try:
        return list(module.parse_document(body, url=url, headers=headers))
    except RecursionError:
        raise UnrecognisedDocument("JSON nested too deep to read") from None


def run(args) -> int:
    from crawler.items import RejectedItem
    from crawler.offline import OfflineChain
    from crawler.parsers import BlockedPage, UnrecognisedDocument, parser_for

    try:
        module = parser_for(args.platform)
        chain = None if args.raw else OfflineChain(project_settings())
        count = recognised = 0
        for body, url, headers in documents(args.file, args.url):
            try:
                items = parse_one(module, body, url, headers)
                recognised += 1
            except BlockedPage as exc:
                items = [RejectedItem(reason=exc.reason, detail=exc.detail, platform=args.platform,
                                      source_url=url, item_type="page")]
            except UnrecognisedDocument:
                if url is None:
                    raise
                continue  # a cassette may record requests that carry no data (e.g. robots.txt)
            for item in items:
                if chain is not None:
                    item = chain.process(item)
                print(json.dumps(as_json(item), default=json_value, ensure_ascii=False))
                count += 1
        if count == 0 and recognised:  # an id lookup, an empty listing: read, nothing to print
            print(f"microscout: {args.file} is a {args.platform} body that holds no profiles, "
                  "posts or sightings", file=sys.stderr)
        elif count == 0:
            raise UnrecognisedDocument("no items found")
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_closed()
        return 0
    except FileNotFoundError:
        return fail(f"no such file: {args.file}")
    except IsADirectoryError:
        return fail(f"{args.file} is a directory, not a file")
    except OSError as exc:
        return fail(f"cannot read {exc.filename or args.file}: {exc.strerror or exc}")
    except (UnrecognisedDocument, ValueError) as exc:
        return fail(f"cannot read {args.file} as {args.platform}: {exc}")
    except RecursionError:  # a YAML or item structure nested too deep
        return fail(f"cannot read {args.file} as {args.platform}: nested too deep to read")
    return 0
