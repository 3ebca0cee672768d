"""The sandbox world served as YouTube: channel and hashtag pages, browse continuations, and
an imitation of the YouTube Data API v3.

Shapes copy the real captures in ``../shared/realworld/youtube`` (see ``SOURCES.md``): a
channel page embeds ``var ytInitialData = {...}`` holding the same JSON as the NewPipe
``youtubei/v1/browse`` recording (``pageHeaderRenderer`` header with "@handle",
"25.3K subscribers", "337 videos" rows and the CHECK_CIRCLE_FILLED badge,
``channelMetadataRenderer``, a selected Videos tab whose ``richGridRenderer`` holds
``richItemRenderer.content.videoRenderer`` items), hashtag listings carry the videoRenderer
keys of the Invidious ``/hashtag`` recording (``ownerText`` with the channel's browse
endpoint, ``viewCountText``, ``publishedTimeText``), continuation tokens are base64 protobuf
laid out as YouTube's, and the Data API bodies have the python-youtube recordings' keys.

Routes:

* ``GET /hashtag/:tag?hl=``: the tag's first page; ``GET /channel/:id[/videos]?hl=`` and
  ``/@:handle[/videos]``: a channel's Videos tab (newest videos first).
* ``POST /youtubei/v1/browse``: ``{"context": {"client": {"hl"}}, "continuation": token}``
  answers the next page of a hashtag listing or channel tab
  (``onResponseReceivedActions[].appendContinuationItemsAction``); ``{"browseId": "UC..."}``
  answers the channel's browse body.
* ``GET /youtube/v3/search`` (``q=#tag`` or ``channelId=`` + ``order=date``, ``pageToken``),
  ``/youtube/v3/channels?id=a,b,...`` or ``?forHandle=@name`` (``part`` of ``snippet``,
  ``statistics``, ``contentDetails``: statistics rounded down to three significant figures,
  ``hiddenSubscriberCount`` for some channels; ``contentDetails.relatedPlaylists.uploads`` is
  the uploads playlist ``UU<the channel id after "UC">``),
  ``/youtube/v3/playlistItems?playlistId=UU...&maxResults=&pageToken=`` (an uploads playlist:
  the channel's videos, newest first, with ``contentDetails.videoId``/``videoPublishedAt``
  and ``snippet.resourceId``/``videoOwnerChannelId`` as the youtubeaio recording; an unknown
  playlist is Google's 404 ``playlistNotFound``), ``/youtube/v3/videos?id=...`` (``part`` of
  ``snippet``, ``statistics``, ``paidProductPlacementDetails``: ``hasPaidProductPlacement``
  true for the world's flagged paid partnerships, ``World.post_flagged``). The key must come
  in the ``X-Goog-Api-Key`` header: no header answers Google's 403 ``forbidden`` body, a
  ``key=`` in the URL a 400 (the sandbox refuses keys in URLs, which end up in logs). Quota
  costs as Google's: search 100 units, the others 1.
* ``/robots.txt`` (YouTube's rules: ``/youtubei/`` and ``/api/`` disallowed), images.

Counts and times come in the page's language, ``hl`` (query or the browse body's client):
``en`` (default), ``de`` and ``es``, e.g. "1,545,374 views" / "1.545.374 Aufrufe",
"25.3K subscribers" / "25.300 Abonnenten" / "25,3 mil suscriptores", "3 days ago" /
"vor 3 Tagen" / "hace 3 días", measured from the world's fixed "now"
(:data:`crawler.sandbox.world.EPOCH`). Views come from :func:`video_numbers`.

Knobs (``--knob NAME=VALUE``, ``SandboxProcess(knobs=...)``, or at run time through the
server's ``GET /__platform__/knobs?consent=0.1&bot_check=0.05&captcha=0&scope=profiles&quota=N``):
block pages at a rate from 0 to 1 (default 0), decided by (seed, URL) like
:class:`~crawler.sandbox.tiktok.BlockInjector`: ``consent`` the "Before you continue to YouTube"
page, ``bot_check`` the "Sign in to confirm you're not a bot" page (both 200), ``captcha``
Google's "unusual traffic" page (429). ``scope`` is ``all`` (default), ``profiles`` (channel
pages) or ``listings`` (hashtag pages and continuations). ``quota`` caps the Data API units a
run may spend (then 403 ``quotaExceeded``): a whole number, or empty (or ``none``) for no cap,
the default; setting it starts the count afresh. ``api_quota`` is Google's own rule: the
units each API key may spend per day (the day of the Pacific time zone, as Google's quota
resets at midnight Pacific), then 403 ``quotaExceeded`` for that key until the next day;
a whole number, or empty for no cap (the default); setting it starts every key's count afresh.
The knobs endpoint answers ``{"knobs": {...rates, "scope"}, "served": {kind: count},
"quota": {"limit", "used", "calls": {resource: n}}, "api_keys_seen": n}``, with
``"api_quota": {"limit", "day", "used": {key fingerprint: units}}`` while ``api_quota`` is
set (a fingerprint is the first 10 hex digits of the key's SHA-256, as
``crawler.quota.account_of`` prints it: the knobs endpoint never shows a key). ``calls``
counts the charged calls per resource since the ``quota`` knob was last set.

The server hands the app request headers and (``accepts_post``) POST bodies on ``Request``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any, ClassVar, Literal, TypedDict
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from crawler.sandbox.common import (
    PNG_1X1,
    AppConfig,
    Request,
    Response,
    dump_json,
    escape_html,
    unknown_knob,
)
from crawler.sandbox.tiktok import BlockInjector, script_json, seeded, video_numbers
from crawler.sandbox.world import EPOCH, Account, Post, World

PAGE_SIZE = 30  # videos per hashtag page, channel tab page
API_MAX_RESULTS = 50
CLIENT_VERSION = "2.20260123.01.00"
HASHTAG_BROWSE_ID = "FEhashtag"
CONTINUATION_FIELD = 80226972  # the outer field of every browse continuation token
HASHTAG_PARAMS_FIELD = 325477796
IMAGE_PATH = "/yt-sandbox-img"
LANGUAGES = ("en", "de", "es")
QUOTA_COST = {"search": 100, "channels": 1, "videos": 1, "playlistItems": 1}
#: Google's quota day: midnight to midnight Pacific time.
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")
_QUOTA_MESSAGE = ('The request cannot be completed because you have exceeded your '
                  '<a href="/youtube/v3/getting-started#quota">quota</a>.')

ROBOTS_TXT = """\
# Sandbox copy of YouTube's robots.txt rules
User-agent: Mediapartners-Google*
Disallow:

User-agent: *
Disallow: /api/
Disallow: /comment
Disallow: /feeds/videos.xml
Disallow: /file_download
Disallow: /get_video
Disallow: /get_video_info
Disallow: /get_midroll_info
Disallow: /live_chat
Disallow: /login
Disallow: /qr
Disallow: /results
Disallow: /signup
Disallow: /t/terms
Disallow: /timedtext_video
Disallow: /verify_age
Disallow: /watch_ajax
Disallow: /watch_fragments_ajax
Disallow: /watch_popup
Disallow: /watch_queue_ajax
Disallow: /youtubei/
"""

_HTML = "text/html; charset=utf-8"
_CONSENT_HTML = """\
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Before you continue to YouTube</title>
</head><body><div class="consent-bump"><h1>Before you continue to YouTube</h1>
<p>We use cookies and data to deliver and maintain Google services.</p>
<form action="https://consent.youtube.com/save" method="POST">
<input type="hidden" name="set_eom" value="true">
<button>Reject all</button><button>Accept all</button></form></div></body></html>
"""
_BOT_CHECK_HTML = """\
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>YouTube</title></head><body>
<div id="error-screen"><div class="reason">Sign in to confirm you\u2019re not a bot</div>
<div class="subreason">This helps protect our community. Learn more</div></div></body></html>
"""
_SORRY_HTML = """\
<!DOCTYPE html><html><head><meta charset="utf-8"><title>https://www.youtube.com/</title>
<script src="https://www.google.com/recaptcha/api.js" async defer></script></head><body>
<div id="infoDiv">Our systems have detected unusual traffic from your computer network.
This page checks to see if it's really you sending the requests, and not a robot.</div>
<form id="captcha-form" action="index" method="post"><div class="g-recaptcha"></div></form>
</body></html>
"""

class _Words(TypedDict):
    """One language's texts: (singular, plural) pairs and fixed strings."""

    views: tuple[str, str]
    subscribers: tuple[str, str]
    videos: tuple[str, str]
    no_views: str
    units: dict[str, tuple[str, str]]
    ago: str
    videos_tab: str
    home_tab: str
    shorts_tab: str


# The words of the three page languages.
_WORDS: dict[str, _Words] = {
    "en": {"views": ("view", "views"), "subscribers": ("subscriber", "subscribers"),
           "videos": ("video", "videos"), "no_views": "No views",
           "units": {"second": ("second", "seconds"), "minute": ("minute", "minutes"),
                     "hour": ("hour", "hours"), "day": ("day", "days"),
                     "week": ("week", "weeks"), "month": ("month", "months"),
                     "year": ("year", "years")},
           "ago": "{n} {unit} ago", "videos_tab": "Videos", "home_tab": "Home",
           "shorts_tab": "Shorts"},
    "de": {"views": ("Aufruf", "Aufrufe"), "subscribers": ("Abonnent", "Abonnenten"),
           "videos": ("Video", "Videos"), "no_views": "Keine Aufrufe",
           "units": {"second": ("Sekunde", "Sekunden"), "minute": ("Minute", "Minuten"),
                     "hour": ("Stunde", "Stunden"), "day": ("Tag", "Tagen"),
                     "week": ("Woche", "Wochen"), "month": ("Monat", "Monaten"),
                     "year": ("Jahr", "Jahren")},
           "ago": "vor {n} {unit}", "videos_tab": "Videos", "home_tab": "Startseite",
           "shorts_tab": "Shorts"},
    "es": {"views": ("visualización", "visualizaciones"),
           "subscribers": ("suscriptor", "suscriptores"), "videos": ("video", "videos"),
           "no_views": "Sin visualizaciones",
           "units": {"second": ("segundo", "segundos"), "minute": ("minuto", "minutos"),
                     "hour": ("hora", "horas"), "day": ("día", "días"),
                     "week": ("semana", "semanas"), "month": ("mes", "meses"),
                     "year": ("año", "años")},
           "ago": "hace {n} {unit}", "videos_tab": "Videos", "home_tab": "Principal",
           "shorts_tab": "Shorts"},
}

_UNIT_SECONDS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
                 ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


# --------------------------------------------------------------------------- server extension


# --------------------------------------------------------------------------- protobuf tokens


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _read_fields(buf: bytes) -> dict[int, Any]:
    fields: dict[int, Any] = {}
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire == 2:
            length, i = _read_varint(buf, i)
            value, i = buf[i:i + length], i + length
        else:
            raise ValueError("unsupported wire type")
        fields.setdefault(number, value)
    return fields


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _b64(data: bytes, *, url_quote: bool = True) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return quote(text, safe="") if url_quote else text


def _unb64(text: str) -> bytes:
    text = unquote(unquote(text)).replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def continuation(browse_id: str, offset: int, tag: str | None = None) -> str:
    """A browse continuation token laid out as YouTube's (see the Invidious recording):
    field 80226972 holding {2: browse id, 3: base64 params, 7: base64 of the listing's
    message}; for ``/hashtag/X`` that message names the tag (field 325477796 -> 2)."""
    params = _b64(_field(1, offset) + _field(2, 0))
    inner = _field(2, browse_id) + _field(3, params)
    if tag is not None:
        listing = (_field(2, tag) + _field(3, _b64(_field(1, offset) + _field(2, 0) + _field(
            3, hashlib.blake2b(tag.encode(), digest_size=24).digest()), url_quote=False))
            + _field(4, b"\x08\x01") + _field(5, f"browse-feed{HASHTAG_BROWSE_ID}") + _field(7, 0))
        inner += _field(7, _b64(_field(HASHTAG_PARAMS_FIELD, listing), url_quote=False))
    return _b64(_field(CONTINUATION_FIELD, inner), url_quote=False)


def read_continuation(token: str) -> tuple[str, int, str | None] | None:
    """(browse id, offset, tag) of a token made by :func:`continuation`; None if unreadable."""
    try:
        inner = _read_fields(_read_fields(_unb64(token))[CONTINUATION_FIELD])
        browse_id = inner[2].decode()
        offset = int(_read_fields(_unb64(inner[3].decode())).get(1, 0))
        tag = None
        if 7 in inner:
            listing = _read_fields(_read_fields(_unb64(inner[7].decode()))[HASHTAG_PARAMS_FIELD])
            tag = listing[2].decode()
    except (KeyError, ValueError, UnicodeDecodeError, TypeError, AttributeError):
        return None
    return browse_id, offset, tag


def page_token(offset: int) -> str:
    """A Data API ``pageToken`` as Google's look ("CBkQAA" is offset 25)."""
    return base64.b64encode(_field(1, offset) + _field(2, 0)).decode().rstrip("=")


def read_page_token(token: str) -> int:
    try:
        return int(_read_fields(_unb64(token)).get(1, 0))
    except (ValueError, TypeError):
        return 0


# --------------------------------------------------------------------------- formatting


def _group(value: int, sep: str) -> str:
    return f"{value:,}".replace(",", sep)


def _floor_sig(value: int, digits: int = 3) -> int:
    """Rounded down to ``digits`` significant figures, as YouTube shows subscriber counts."""
    if value < 10**digits:
        return value
    scale = 10 ** (len(str(value)) - digits)
    return value // scale * scale


def _plural(lang: str, key: Literal["views", "subscribers", "videos"], n: int) -> str:
    one, many = _WORDS[lang][key]
    return one if n == 1 else many


def views_text(views: int, lang: str) -> str:
    if views == 0:
        return _WORDS[lang]["no_views"]
    sep = "," if lang == "en" else "."
    return f"{_group(views, sep)} {_plural(lang, 'views', views)}"


def short_views_text(views: int, lang: str) -> str:
    return f"{compact(views, lang)} {_plural(lang, 'views', views)}"


def compact(value: int, lang: str) -> str:
    """YouTube's compact numbers: "25.3K" / "25.300" / "25,3 mil", "1.65M" / "1,65 Mio."."""
    value = _floor_sig(value)
    if value < 1000:
        return str(value)
    if value < 1_000_000:
        if lang == "de":
            return _group(value, ".")
        number, suffix = value / 1000, {"en": "K", "es": " mil"}[lang]
    elif value < 1_000_000_000:
        number, suffix = value / 1_000_000, {"en": "M", "de": " Mio.", "es": " M"}[lang]
    else:
        number, suffix = value / 1_000_000_000, {"en": "B", "de": " Mrd.", "es": " mil M"}[lang]
    text = f"{number:.2f}".rstrip("0").rstrip(".") if number < 10 else (
        f"{number:.1f}".rstrip("0").rstrip(".") if number < 100 else f"{number:.0f}")
    if lang != "en":
        text = text.replace(".", ",")
    return text + suffix


def subscribers_text(value: int, lang: str) -> str:
    text = f"{compact(value, lang)} {_plural(lang, 'subscribers', value)}"
    if lang == "es" and value >= 1_000_000:
        text = text.replace(" M ", " M de ")
    return text


def videos_text(value: int, lang: str) -> str:
    sep = "," if lang == "en" else "."
    return f"{_group(value, sep)} {_plural(lang, 'videos', value)}"


def published_text(moment: datetime, lang: str, now: datetime = EPOCH) -> str:
    seconds = max(1, int((now - moment).total_seconds()))
    unit, size = next((u, s) for u, s in _UNIT_SECONDS if seconds >= s)
    n = seconds // size
    one, many = _WORDS[lang]["units"][unit]
    return _WORDS[lang]["ago"].format(n=n, unit=one if n == 1 else many)


def duration_text(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def iso_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- the app


class YouTubeApp:
    name = "youtube"
    accepts_post = True
    #: The knobs (``--knob NAME=VALUE``, ``/__platform__/knobs``) and what each does.
    KNOBS: ClassVar[dict[str, str]] = {
        "consent": "share of eligible requests answered with the consent page (0 to 1)",
        "bot_check": "share answered with the 'confirm you're not a bot' page (0 to 1)",
        "captcha": "share answered with Google's 'unusual traffic' page, 429 (0 to 1)",
        "scope": "which requests are eligible: all, profiles or listings",
        "quota": "Data API units a run may spend (a whole number; empty: no cap)",
        "api_quota": "Data API units each key may spend a (Pacific) day, then 403 quotaExceeded "
                     "(a whole number; empty: no cap)",
    }

    def __init__(self, world: World) -> None:
        self.world = world
        self.blocks = BlockInjector(("consent", "bot_check", "captcha"), world.seed,
                                    platform=self.name)
        self.quota: int | None = None
        self.quota_used = 0
        self.quota_calls: dict[str, int] = {}  # charged calls per resource (since the quota knob)
        self.api_quota: int | None = None
        #: (Pacific day, key fingerprint) -> units spent that day
        self.api_quota_used: dict[tuple[date, str], int] = {}
        self.keys_seen = 0
        self._lock = threading.Lock()
        self._routes = (
            (re.compile(r"/robots\.txt"), self.robots, None),
            (re.compile(r"/hashtag/([^/]+)/?"), self.hashtag_page, "listing"),
            (re.compile(r"/channel/(UC[\w-]{22})(?:/(videos|featured))?/?"), self.channel_page,
             "profile"),
            (re.compile(r"/@([^/]+?)(?:/(videos|featured))?/?"), self.handle_page, "profile"),
            (re.compile(r"/youtube/v3/(search|channels|videos|playlistItems)"), self.data_api,
             None),
            (re.compile(IMAGE_PATH + r"/.+"), self.image, None),
        )

    @classmethod
    def from_config(cls, world: World, config: AppConfig) -> YouTubeApp:
        """The app for the sandbox server, with ``config.knobs`` (see the module docstring);
        ValueError with a one-line message for a bad knob."""
        app = cls(world)
        app.configure(config.knobs)
        return app

    # -- the server's interface --------------------------------------------------------

    def configure(self, knobs: Mapping[str, str]) -> None:
        for name in knobs:
            if name not in self.KNOBS:
                raise unknown_knob(self.name, name, self.KNOBS)
        blocks = {name: value for name, value in knobs.items()
                  if name not in ("quota", "api_quota")}
        caps = {name: self._units_knob(name, knobs[name]) for name in ("quota", "api_quota")
                if name in knobs}
        self.blocks.configure(blocks)  # raises before anything changed
        with self._lock:
            if "quota" in caps:
                self.quota = caps["quota"]
                self.quota_used = 0
                self.quota_calls = {}
            if "api_quota" in caps:
                self.api_quota = caps["api_quota"]
                self.api_quota_used.clear()

    @staticmethod
    def _units_knob(name: str, value: str) -> int | None:
        text = value.strip().lower()
        if text.isascii() and text.isdigit():
            return int(text)
        if text in ("", "none", "null", "off"):
            return None
        raise ValueError(f"knob {name} must be a whole number of units (empty: no cap), "
                         f"not {value.strip()!r}")

    def knob_state(self) -> dict:
        state = self.blocks.state()
        with self._lock:
            state["quota"] = {"limit": self.quota, "used": self.quota_used,
                              "calls": dict(sorted(self.quota_calls.items()))}
            state["api_keys_seen"] = self.keys_seen
            if self.api_quota is not None:
                today = self.quota_day()
                state["api_quota"] = {
                    "limit": self.api_quota, "day": today.isoformat(),
                    "used": {key: used for (day, key), used in sorted(self.api_quota_used.items())
                             if day == today}}
        return state

    @staticmethod
    def quota_day(now: datetime | None = None) -> date:
        """Google's quota day holding ``now`` (default: the real clock), Pacific time."""
        return (now or datetime.now(timezone.utc)).astimezone(QUOTA_ZONE).date()

    @staticmethod
    def key_fingerprint(key: str) -> str:
        """The first 10 hex digits of the key's SHA-256 (crawler.quota.account_of's)."""
        return hashlib.sha256(key.encode()).hexdigest()[:10]

    def faultable(self, path: str) -> bool:
        return path != "/robots.txt" and not path.startswith(IMAGE_PATH)

    def handle(self, request: Request) -> Response:
        if request.method == "POST":
            if request.path.rstrip("/") != "/youtubei/v1/browse":
                return Response(404, dump_json({"error": {"code": 404, "status": "NOT_FOUND"}}))
            kind = self.blocks.decide(
                request.target + request.body.decode("utf-8", "replace"), "listing")
            return self.block_page(kind) if kind else self.browse(request)
        for pattern, handler, route_class in self._routes:
            match = pattern.fullmatch(request.path)
            if match:
                kind = self.blocks.decide(request.target, route_class) if route_class else None
                if kind:
                    return self.block_page(kind)
                return handler(request, *(unquote(g) if g else g for g in match.groups()))
        return Response(404, b"<!DOCTYPE html><title>404 Not Found</title>", _HTML)

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            return Response(429, _SORRY_HTML.encode(), _HTML, [("retry-after", "1")])
        if kind in ("500", "503"):
            body = b"<!DOCTYPE html><html><body><p>Oops, something went wrong.</p></body></html>"
            return Response(int(kind), body, _HTML)
        raise ValueError(f"no {kind!r} response")

    @staticmethod
    def block_page(kind: str) -> Response:
        if kind == "consent":
            return Response(200, _CONSENT_HTML.encode(), _HTML)
        if kind == "bot_check":
            return Response(200, _BOT_CHECK_HTML.encode(), _HTML)
        return Response(429, _SORRY_HTML.encode(), _HTML)

    # -- ids -----------------------------------------------------------------------------

    def channel_id(self, account: Account) -> str:
        digest = hashlib.blake2b(f"{self.world.seed}:{account.index}".encode(),
                                 digest_size=12).digest()
        return "UC" + base64.urlsafe_b64encode(digest + account.index.to_bytes(4, "big")).decode()[:22]

    def account_by_channel_id(self, channel_id: str) -> Account | None:
        if not re.fullmatch(r"UC[\w-]{22}", channel_id):
            return None
        raw = base64.urlsafe_b64decode(channel_id[2:] + "==")
        index = int.from_bytes(raw[12:16], "big")
        if index >= self.world.size:
            return None
        account = self.world.account(index)
        return account if self.channel_id(account) == channel_id else None

    @staticmethod
    def video_id(post: Post) -> str:
        return base64.urlsafe_b64encode(int(post.id).to_bytes(8, "big")).decode().rstrip("=")

    def post_by_video_id(self, video_id: str) -> Post | None:
        try:
            pid = int.from_bytes(base64.urlsafe_b64decode(video_id + "="), "big")
        except ValueError:
            return None
        return self.world.post_by_id(pid)

    @staticmethod
    def handle_of(account: Account) -> str:
        return account.username.lower()

    def hidden_subscribers(self, account: Account) -> bool:
        return seeded(self.world.seed, "hidden-subscribers", account.index) < 0.04

    # -- pieces of renderers ---------------------------------------------------------------

    @staticmethod
    def _tracking(*parts: object) -> str:
        digest = hashlib.blake2b(repr(parts).encode(), digest_size=27).digest()
        return "C" + base64.urlsafe_b64encode(digest).decode()[:35]

    def _image(self, base: str, kind: str, key: str, width: int, height: int) -> dict:
        return {"url": f"{base}{IMAGE_PATH}/{kind}/{key}/{width}x{height}.jpg",
                "width": width, "height": height}

    @staticmethod
    def _hl(value: str | None) -> str:
        lang = (value or "en").split("-")[0].split("_")[0].lower()
        return lang if lang in LANGUAGES else "en"

    def _owner_run(self, account: Account) -> dict:
        channel_id = self.channel_id(account)
        return {"runs": [{"text": account.display_name or account.username,
                          "navigationEndpoint": {
                              "commandMetadata": {"webCommandMetadata": {
                                  "url": f"/channel/{channel_id}",
                                  "webPageType": "WEB_PAGE_TYPE_CHANNEL", "rootVe": 3611,
                                  "apiUrl": "/youtubei/v1/browse"}},
                              "browseEndpoint": {"browseId": channel_id}}}]}

    def video_renderer(self, post: Post, base: str, lang: str, *, listing: bool) -> dict:
        """A ``videoRenderer``: with the hashtag listing's keys (``listing``) or the channel
        Videos tab's (``descriptionSnippet``, ``trackingParams``, no owner runs)."""
        world = self.world
        account = world.account(post.account_index)
        video_id = self.video_id(post)
        numbers = video_numbers(world.seed, post)
        title = post.text.split("\n\n")[0].replace("\n", " ")[:100]
        duration = numbers["duration"]
        seconds_label = f"{duration // 60} minutes, {duration % 60} seconds"
        tracking = self._tracking("video", post.id)
        badges = []
        if account.followers >= 100_000:
            badges.append({"metadataBadgeRenderer": {
                "icon": {"iconType": "CHECK_CIRCLE_THICK"}, "style": "BADGE_STYLE_TYPE_VERIFIED",
                "tooltip": "Verified", "accessibilityData": {"label": "Verified"}}})
        renderer: dict = {
            "videoId": video_id,
            "thumbnail": {"thumbnails": [self._image(base, "vi", video_id, 168, 94),
                                         self._image(base, "vi", video_id, 336, 188)]},
            "title": {"runs": [{"text": title}],
                      "accessibility": {"accessibilityData": {"label": f"{title} {seconds_label}"}}},
        }
        if not listing:
            renderer["descriptionSnippet"] = {"runs": [{"text": post.text.replace("\n", " ")[:160]}]}
        else:
            renderer["longBylineText"] = self._owner_run(account)
        renderer["publishedTimeText"] = {"simpleText": published_text(post.created_at, lang)}
        renderer["lengthText"] = {"accessibility": {"accessibilityData": {"label": seconds_label}},
                                  "simpleText": duration_text(duration)}
        renderer["viewCountText"] = {"simpleText": views_text(numbers["views"], lang)}
        renderer["navigationEndpoint"] = {
            "commandMetadata": {"webCommandMetadata": {"url": f"/watch?v={video_id}",
                                                       "webPageType": "WEB_PAGE_TYPE_WATCH",
                                                       "rootVe": 3832}},
            "watchEndpoint": {"videoId": video_id}}
        if listing:
            renderer["ownerText"] = self._owner_run(account)
            renderer["shortBylineText"] = self._owner_run(account)
        renderer["ownerBadges"] = badges
        if not listing:
            renderer["trackingParams"] = tracking
        renderer["showActionMenu"] = False
        renderer["shortViewCountText"] = {
            "accessibility": {"accessibilityData": {"label": short_views_text(numbers["views"],
                                                                              lang)}},
            "simpleText": short_views_text(numbers["views"], lang)}
        renderer["menu"] = {"menuRenderer": {"items": [{"menuServiceItemRenderer": {
            "text": {"runs": [{"text": "Add to queue"}]}, "icon": {"iconType": "ADD_TO_QUEUE_TAIL"},
            "trackingParams": tracking}}], "trackingParams": tracking,
            "accessibility": {"accessibilityData": {"label": "Action menu"}}}}
        if listing:
            channel_id = self.channel_id(account)
            renderer["channelThumbnailSupportedRenderers"] = {"channelThumbnailWithLinkRenderer": {
                "thumbnail": {"thumbnails": [self._image(base, "avatar", channel_id, 68, 68)]},
                "navigationEndpoint": {"browseEndpoint": {"browseId": channel_id}},
                "accessibility": {"accessibilityData": {"label": "Go to channel"}}}}
        renderer["thumbnailOverlays"] = [{"thumbnailOverlayTimeStatusRenderer": {
            "text": {"accessibility": {"accessibilityData": {"label": seconds_label}},
                     "simpleText": duration_text(duration)}, "style": "DEFAULT"}}]
        renderer["richThumbnail"] = {"movingThumbnailRenderer": {
            "movingThumbnailDetails": {"thumbnails": [self._image(base, "an_webp", video_id, 320,
                                                                  180)],
                                       "logAsMovingThumbnail": True},
            "enableHoveredLogging": True, "enableOverlay": True}}
        return renderer

    def _rich_item(self, post: Post, base: str, lang: str, *, listing: bool) -> dict:
        return {"richItemRenderer": {
            "content": {"videoRenderer": self.video_renderer(post, base, lang, listing=listing)},
            "trackingParams": self._tracking("item", post.id)}}

    def _continuation_item(self, token: str) -> dict:
        return {"continuationItemRenderer": {
            "trigger": "CONTINUATION_TRIGGER_ON_ITEM_SHOWN",
            "continuationEndpoint": {
                "commandMetadata": {"webCommandMetadata": {"sendPost": True,
                                                           "apiUrl": "/youtubei/v1/browse"}},
                "continuationCommand": {"token": token,
                                        "request": "CONTINUATION_REQUEST_TYPE_BROWSE"}}}}

    def _response_context(self, browse_id: str, route: str) -> dict:
        return {
            "serviceTrackingParams": [
                {"service": "GFEEDBACK", "params": [
                    {"key": "route", "value": route}, {"key": "is_owner", "value": "false"},
                    {"key": "browse_id", "value": browse_id},
                    {"key": "browse_id_prefix", "value": ""}, {"key": "logged_in", "value": "0"}]},
                {"service": "CSI", "params": [{"key": "c", "value": "WEB"},
                                              {"key": "cver", "value": CLIENT_VERSION},
                                              {"key": "yt_li", "value": "0"}]},
                {"service": "ECATCHER", "params": [{"key": "client.version",
                                                    "value": CLIENT_VERSION[:10]},
                                                   {"key": "client.name", "value": "WEB"}]},
            ],
            "maxAgeSeconds": 300,
            "mainAppWebResponseContext": {"loggedOut": True, "trackingParam": self._tracking(
                "ctx", browse_id)},
        }

    @staticmethod
    def _topbar() -> dict:
        return {"desktopTopbarRenderer": {"logo": {"topbarLogoRenderer": {
            "iconImage": {"iconType": "YOUTUBE_LOGO"},
            "tooltipText": {"runs": [{"text": "YouTube Home"}]}}}}}

    # -- channel ---------------------------------------------------------------------------

    def _tab(self, title: str, url: str, channel_id: str, params: str, *,
             content: dict | None = None) -> dict:
        tab: dict = {"endpoint": {
            "commandMetadata": {"webCommandMetadata": {"url": url,
                                                       "webPageType": "WEB_PAGE_TYPE_CHANNEL",
                                                       "rootVe": 3611,
                                                       "apiUrl": "/youtubei/v1/browse"}},
            "browseEndpoint": {"browseId": channel_id, "params": params,
                               "canonicalBaseUrl": url.rsplit("/", 1)[0]}}, "title": title}
        if content is not None:
            tab["selected"] = True
            tab["content"] = content
        tab["trackingParams"] = self._tracking("tab", channel_id, title)
        return {"tabRenderer": tab}

    def channel_videos(self, account: Account, base: str, lang: str, offset: int = 0) -> list:
        posts = self.world.posts(account)  # newest first
        page = posts[offset:offset + PAGE_SIZE]
        items = [self._rich_item(p, base, lang, listing=False) for p in page]
        if offset + PAGE_SIZE < len(posts):
            items.append(self._continuation_item(
                continuation(self.channel_id(account), offset + PAGE_SIZE)))
        return items

    def channel_browse(self, account: Account, base: str, lang: str) -> dict:
        """The channel's Videos tab as ``ytInitialData`` / a browse body."""
        channel_id = self.channel_id(account)
        handle = self.handle_of(account)
        name = account.display_name or account.username
        words = _WORDS[lang]
        verified = account.followers >= 100_000
        subscribers = None if self.hidden_subscribers(account) else account.followers
        grid = {"richGridRenderer": {
            "contents": self.channel_videos(account, base, lang),
            "trackingParams": self._tracking("grid", channel_id),
            "header": {"feedFilterChipBarRenderer": {"contents": [], "trackingParams":
                       self._tracking("chips", channel_id),
                       "styleType": "FEED_FILTER_CHIP_BAR_STYLE_TYPE_CHANNEL_PAGE_GRID"}},
            "targetId": f"browse-feed{channel_id}videos",
            "style": "RICH_GRID_STYLE_SLIM"}}
        tabs = [
            self._tab(words["home_tab"], f"/@{handle}/featured", channel_id, "EghmZWF0dXJlZPIGBAoCMgA%3D"),
            self._tab(words["videos_tab"], f"/@{handle}/videos", channel_id, "EgZ2aWRlb3PyBgQKAjoA",
                      content=grid),
            self._tab(words["shorts_tab"], f"/@{handle}/shorts", channel_id, "EgZzaG9ydHPyBgUKA5oBAA%3D%3D"),
        ]
        rows: list[dict] = [{"metadataParts": [{"text": {"content": f"@{handle}"},
                                                "enableTruncation": True}]}]
        counts = []
        if subscribers is not None:
            counts.append({"text": {"content": subscribers_text(subscribers, lang)},
                           "accessibilityLabel": subscribers_text(subscribers, lang)})
        counts.append({"text": {"content": videos_text(account.statuses_count, lang)}})
        rows.append({"metadataParts": counts})
        title: dict = {"content": name}
        if verified:
            title["attachmentRuns"] = [{"startIndex": len(name), "length": 0, "element": {
                "type": {"imageType": {"image": {"sources": [{
                    "clientResource": {"imageName": "CHECK_CIRCLE_FILLED"},
                    "width": 14, "height": 14}]}}}}, "alignment": "ALIGNMENT_VERTICAL_CENTER"}]
        view_model: dict = {
            "title": {"dynamicTextViewModel": {"text": title, "maxLines": 2}},
            "image": {"decoratedAvatarViewModel": {"avatar": {"avatarViewModel": {
                "image": {"sources": [self._image(base, "avatar", channel_id, 72, 72)]},
                "avatarImageSize": "AVATAR_SIZE_XL"}}}},
            "metadata": {"contentMetadataViewModel": {"metadataRows": rows, "delimiter": "\u2022"}},
            "actions": {"flexibleActionsViewModel": {"actionsRows": [{"actions": [
                {"buttonViewModel": {"title": "Subscribe", "style": "BUTTON_VIEW_MODEL_STYLE_MONO"}}]}]}},
            "description": {"descriptionPreviewViewModel": {
                "description": {"content": account.note.split("\n\n")[0]}, "maxLines": 2}},
        }
        if account.website:
            target = quote(account.website, safe="")
            redirect = f"https://www.youtube.com/redirect?event=channel_header&q={target}"
            view_model["attribution"] = {"attributionViewModel": {"text": {
                "content": account.website.split("://", 1)[1],
                "commandRuns": [{"startIndex": 0, "length": len(account.website), "onTap": {
                    "innertubeCommand": {"urlEndpoint": {"url": redirect,
                                                         "target": "TARGET_NEW_WINDOW"}}}}]}}}
        view_model["banner"] = {"imageBannerViewModel": {
            "image": {"sources": [self._image(base, "banner", channel_id, 1060, 175)]},
            "style": "IMAGE_BANNER_STYLE_INSET"}}
        view_model["rendererContext"] = {"loggingContext": {"loggingDirectives": {
            "trackingParams": self._tracking("header", channel_id)}}}
        canonical = f"https://www.youtube.com/channel/{channel_id}"
        avatar = {"thumbnails": [self._image(base, "avatar", channel_id, 900, 900)]}
        return {
            "responseContext": self._response_context(channel_id, "channel.videos"),
            "contents": {"twoColumnBrowseResultsRenderer": {"tabs": tabs}},
            "header": {"pageHeaderRenderer": {"pageTitle": name, "content": {
                "pageHeaderViewModel": view_model}}},
            "metadata": {"channelMetadataRenderer": {
                "title": name, "description": account.note,
                "rssUrl": f"https://www.youtube.com/feeds/videos.xml?channel_id={channel_id}",
                "externalId": channel_id,
                "keywords": " ".join(sorted({t for p in self.world.posts(account)[:5]
                                             for t in p.tags})),
                "ownerUrls": [f"http://www.youtube.com/@{handle}"],
                "avatar": avatar, "channelUrl": canonical, "isFamilySafe": True,
                "availableCountryCodes": ["US", "DE", "ES", "GB"],
                "androidDeepLink": f"android-app://com.google.android.youtube/http/www.youtube.com/channel/{channel_id}",
                "androidAppindexingLink": f"android-app://com.google.android.youtube/http/www.youtube.com/channel/{channel_id}",
                "iosAppindexingLink": f"ios-app://544007664/vnd.youtube/www.youtube.com/channel/{channel_id}",
                "vanityChannelUrl": f"http://www.youtube.com/@{handle}"}},
            "trackingParams": self._tracking("page", channel_id),
            "topbar": self._topbar(),
            "microformat": {"microformatDataRenderer": {
                "urlCanonical": canonical, "title": name,
                "description": account.note[:160], "thumbnail": avatar, "siteName": "YouTube",
                "appName": "YouTube", "androidPackage": "com.google.android.youtube",
                "iosAppStoreId": "544007664", "iosAppArguments": canonical,
                "ogType": "yt-fb-app:channel", "urlApplinksWeb": f"{canonical}?feature=applinks",
                "urlApplinksIos": f"vnd.youtube://www.youtube.com/channel/{channel_id}?feature=applinks",
                "urlApplinksAndroid": f"vnd.youtube://www.youtube.com/channel/{channel_id}?feature=applinks",
                "urlTwitterIos": f"vnd.youtube://www.youtube.com/channel/{channel_id}?feature=twitter-deep-link",
                "urlTwitterAndroid": f"vnd.youtube://www.youtube.com/channel/{channel_id}?feature=twitter-deep-link",
                "twitterCardType": "summary", "twitterSiteHandle": "@YouTube",
                "schemaDotOrgType": "http://schema.org/http://schema.org/YoutubeChannelV2",
                "noindex": False, "unlisted": False, "familySafe": True,
                "tags": sorted({t for p in self.world.posts(account)[:5] for t in p.tags}),
                "availableCountries": ["US", "DE", "ES", "GB"],
                "linkAlternates": [{"hrefUrl": f"https://m.youtube.com/channel/{channel_id}"}]}},
        }

    # -- hashtag ---------------------------------------------------------------------------

    def hashtag_items(self, tag: str, base: str, lang: str, offset: int) -> list:
        ids = self.world.tag_post_ids(tag)
        newest_first = list(reversed(ids))
        page = newest_first[offset:offset + PAGE_SIZE]
        items = [self._rich_item(self.world.post(pid), base, lang, listing=True) for pid in page]
        if offset + PAGE_SIZE < len(newest_first):
            items.append(self._continuation_item(
                continuation(HASHTAG_BROWSE_ID, offset + PAGE_SIZE, tag)))
        return items

    def hashtag_browse(self, tag: str, base: str, lang: str) -> dict:
        count = len(self.world.tag_post_ids(tag))
        channels = len(self.world.tag_authors(tag))
        sep = "," if lang == "en" else "."
        meta = (f"{_group(count, sep)} {_plural(lang, 'videos', count)} \u2022 "
                f"{_group(channels, sep)} channels")
        grid = {"richGridRenderer": {"contents": self.hashtag_items(tag, base, lang, 0),
                                     "trackingParams": self._tracking("grid", tag),
                                     "targetId": f"browse-feed{HASHTAG_BROWSE_ID}",
                                     "style": "RICH_GRID_STYLE_SLIM"}}
        return {
            "responseContext": self._response_context(HASHTAG_BROWSE_ID, "hashtag"),
            "contents": {"twoColumnBrowseResultsRenderer": {"tabs": [{"tabRenderer": {
                "selected": True, "content": grid,
                "trackingParams": self._tracking("tab", tag)}}]}},
            "header": {"pageHeaderRenderer": {"pageTitle": f"#{tag}", "content": {
                "pageHeaderViewModel": {
                    "title": {"dynamicTextViewModel": {"text": {"content": f"#{tag}"}}},
                    "metadata": {"contentMetadataViewModel": {"metadataRows": [
                        {"metadataParts": [{"text": {"content": meta}}]}]}}}}}},
            "trackingParams": self._tracking("page", tag),
            "topbar": self._topbar(),
        }

    # -- pages -----------------------------------------------------------------------------

    def _page(self, title: str, data: dict, lang: str) -> Response:
        html = (
            f'<!DOCTYPE html><html style="font-size: 10px" lang="{lang}" darker-dark-theme>'
            f'<head><meta charset="utf-8"><title>{escape_html(title)} - YouTube</title>'
            f'<script nonce="sandbox">ytcfg.set({{"HL": "{lang}", "INNERTUBE_CLIENT_VERSION": '
            f'"{CLIENT_VERSION}"}});</script></head><body><div id="content"></div>'
            f'<script nonce="sandbox">var ytInitialData = {script_json(data)};</script>'
            f"</body></html>\n"
        )
        return Response(200, html.encode(), _HTML)

    def hashtag_page(self, request: Request, tag: str) -> Response:
        name = tag.lstrip("#").lower()
        lang = self._hl(request.query.get("hl"))
        return self._page(f"#{name}", self.hashtag_browse(name, request.base_url, lang), lang)

    def channel_page(self, request: Request, channel_id: str, tab: str | None = None) -> Response:
        account = self.account_by_channel_id(channel_id)
        return self._channel_response(request, account)

    def handle_page(self, request: Request, handle: str, tab: str | None = None) -> Response:
        return self._channel_response(request, self.world.account_by_username(handle))

    def _channel_response(self, request: Request, account: Account | None) -> Response:
        if account is None:
            return Response(404, b"<!DOCTYPE html><title>404 Not Found</title>", _HTML)
        lang = self._hl(request.query.get("hl"))
        data = self.channel_browse(account, request.base_url, lang)
        return self._page(account.display_name or account.username, data, lang)

    def browse(self, request: Request) -> Response:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._api_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.",
                                   "badRequest")
        client = ((body.get("context") or {}).get("client") or {})
        lang = self._hl(client.get("hl"))
        base = request.base_url
        if body.get("continuation"):
            decoded = read_continuation(str(body["continuation"]))
            if decoded is None:
                return self._api_error(400, "INVALID_ARGUMENT",
                                       "Request contains an invalid argument.", "badRequest")
            browse_id, offset, tag = decoded
            if browse_id == HASHTAG_BROWSE_ID and tag:
                items = self.hashtag_items(tag, base, lang, offset)
                target = f"browse-feed{HASHTAG_BROWSE_ID}"
            else:
                account = self.account_by_channel_id(browse_id)
                if account is None:
                    return self._api_error(404, "NOT_FOUND", "Requested entity was not found.",
                                           "notFound")
                items = self.channel_videos(account, base, lang, offset)
                target = f"browse-feed{browse_id}videos"
            value = {"responseContext": self._response_context(browse_id, "browse"),
                     "trackingParams": self._tracking("cont", browse_id, offset),
                     "onResponseReceivedActions": [{"appendContinuationItemsAction": {
                         "continuationItems": items, "targetId": target}}]}
            return Response(200, dump_json(value), "application/json; charset=UTF-8")
        account = self.account_by_channel_id(str(body.get("browseId") or ""))
        if account is None:
            return self._api_error(404, "NOT_FOUND", "Requested entity was not found.",
                                   "notFound")
        return Response(200, dump_json(self.channel_browse(account, base, lang)),
                        "application/json; charset=UTF-8")

    # -- Data API ---------------------------------------------------------------------------

    @staticmethod
    def _api_error(code: int, status: str, message: str, reason: str,
                   domain: str = "global") -> Response:
        return Response(code, dump_json({"error": {
            "code": code, "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": status}}), "application/json; charset=UTF-8")

    def _etag(self, *parts: object) -> str:
        return base64.urlsafe_b64encode(hashlib.blake2b(repr(parts).encode(),
                                                        digest_size=20).digest()).decode()[:27]

    def data_api(self, request: Request, resource: str) -> Response:
        if "key" in request.query:
            return self._api_error(400, "INVALID_ARGUMENT",
                                   "Sandbox: send the API key in the X-Goog-Api-Key header, "
                                   "not in the URL (URLs end up in logs).", "keyInUrl")
        key = request.header("X-Goog-Api-Key")
        if not key:
            return self._api_error(403, "PERMISSION_DENIED",
                                   "The request is missing a valid API key.", "forbidden")
        with self._lock:
            self.keys_seen += 1
            cost = QUOTA_COST[resource]
            daily = (self.quota_day(), self.key_fingerprint(key))
            if ((self.quota is not None and self.quota_used + cost > self.quota)
                    or (self.api_quota is not None
                        and self.api_quota_used.get(daily, 0) + cost > self.api_quota)):
                return self._api_error(403, "PERMISSION_DENIED", _QUOTA_MESSAGE, "quotaExceeded",
                                       "youtube.quota")
            self.quota_used += cost
            self.quota_calls[resource] = self.quota_calls.get(resource, 0) + 1
            if self.api_quota is not None:
                self.api_quota_used[daily] = self.api_quota_used.get(daily, 0) + cost
        return getattr(self, f"api_{resource}")(request)

    def _api_body(self, kind: str, items: list, total: int, per_page: int,
                  next_token: str | None = None, region: bool = False) -> Response:
        value: dict = {"kind": f"youtube#{kind}", "etag": self._etag(kind, [i.get("id") for i in items])}
        if next_token:
            value["nextPageToken"] = next_token
        if region:
            value["regionCode"] = "US"
        value["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
        value["items"] = items
        return Response(200, dump_json(value), "application/json; charset=UTF-8")

    def _thumbnails(self, base: str, kind: str, key: str) -> dict:
        return {name: self._image(base, kind, key, w, h)
                for name, w, h in (("default", 120, 90), ("medium", 320, 180),
                                   ("high", 480, 360))}

    def _video_snippet(self, post: Post, base: str) -> dict:
        account = self.world.account(post.account_index)
        title = post.text.split("\n\n")[0].replace("\n", " ")[:100]
        return {"publishedAt": iso_z(post.created_at), "channelId": self.channel_id(account),
                "title": title, "description": post.text.replace("\n", " ")[:160],
                "thumbnails": self._thumbnails(base, "vi", self.video_id(post)),
                "channelTitle": account.display_name or account.username,
                "liveBroadcastContent": "none"}

    def api_search(self, request: Request) -> Response:
        query = request.query
        if query.get("channelId"):
            account = self.account_by_channel_id(query["channelId"])
            posts = self.world.posts(account) if account else []
        else:
            q = query.get("q", "").strip()
            tag = q[1:].lower() if q.startswith("#") else q.lower()
            posts = [self.world.post(pid) for pid in reversed(self.world.tag_post_ids(tag))]
        max_results = query.get("maxResults", "5")
        per_page = min(int(max_results), API_MAX_RESULTS) if max_results.isdigit() else 5
        offset = read_page_token(query.get("pageToken", ""))
        page = posts[offset:offset + per_page]
        items = [{"kind": "youtube#searchResult", "etag": self._etag("r", p.id),
                  "id": {"kind": "youtube#video", "videoId": self.video_id(p)},
                  "snippet": self._video_snippet(p, request.base_url)} for p in page]
        more = offset + per_page < len(posts)
        return self._api_body("searchListResponse", items, len(posts), per_page,
                              page_token(offset + per_page) if more else None, region=True)

    @staticmethod
    def _parts(request: Request) -> set[str]:
        return {p.strip() for p in request.query.get("part", "").split(",") if p.strip()}

    def api_channels(self, request: Request) -> Response:
        parts = self._parts(request) or {"snippet", "statistics"}
        handle = request.query.get("forHandle", "").strip().lstrip("@")
        if handle:
            found = self.world.account_by_username(handle)
            ids = [self.channel_id(found)] if found is not None else []
        else:
            ids = [i for i in request.query.get("id", "").split(",") if i][:API_MAX_RESULTS]
        items = []
        for channel_id in ids:
            account = self.account_by_channel_id(channel_id)
            if account is None:
                continue
            name = account.display_name or account.username
            stats: dict = {"viewCount": str(sum(video_numbers(self.world.seed, p)["views"]
                                                for p in self.world.posts(account)))}
            if self.hidden_subscribers(account):
                stats["hiddenSubscriberCount"] = True
            else:
                stats["subscriberCount"] = str(_floor_sig(account.followers))
                stats["hiddenSubscriberCount"] = False
            stats["videoCount"] = str(account.statuses_count)
            item: dict = {"kind": "youtube#channel", "etag": self._etag("c", channel_id),
                          "id": channel_id}
            if "snippet" in parts:
                item["snippet"] = {"title": name, "description": account.note,
                                   "customUrl": f"@{self.handle_of(account)}",
                                   "publishedAt": iso_z(account.created_at),
                                   "thumbnails": self._thumbnails(request.base_url, "avatar",
                                                                  channel_id),
                                   "localized": {"title": name, "description": account.note},
                                   "country": "US"}
            if "contentDetails" in parts:
                item["contentDetails"] = {"relatedPlaylists": {
                    "likes": "", "uploads": self.uploads_playlist(channel_id)}}
            if "statistics" in parts:
                item["statistics"] = stats
            items.append(item)
        return self._api_body("channelListResponse", items, len(items), len(items))

    @staticmethod
    def uploads_playlist(channel_id: str) -> str:
        return "UU" + channel_id[2:]

    def api_playlistItems(self, request: Request) -> Response:
        """An uploads playlist (``UU`` + the channel id after ``UC``), newest first."""
        playlist = request.query.get("playlistId", "")
        account = (self.account_by_channel_id("UC" + playlist[2:])
                   if playlist.startswith("UU") else None)
        if account is None:
            message = ("The playlist identified with the request's <code>playlistId</code> "
                       "parameter cannot be found.")
            return self._api_error(404, "NOT_FOUND", message, "playlistNotFound",
                                   "youtube.playlistItem")
        parts = self._parts(request) or {"snippet"}
        posts = self.world.posts(account)
        max_results = request.query.get("maxResults", "5")
        per_page = min(int(max_results), API_MAX_RESULTS) if max_results.isdigit() else 5
        offset = read_page_token(request.query.get("pageToken", ""))
        channel_id = self.channel_id(account)
        items = []
        for position, post in enumerate(posts[offset:offset + per_page], start=offset):
            video_id = self.video_id(post)
            item: dict = {"kind": "youtube#playlistItem", "etag": self._etag("p", post.id),
                          "id": base64.b64encode(f"{playlist}.{video_id}".encode()).decode()}
            if "snippet" in parts:
                snippet = self._video_snippet(post, request.base_url)
                snippet.pop("liveBroadcastContent")
                snippet.update({"playlistId": playlist, "position": position,
                                "resourceId": {"kind": "youtube#video", "videoId": video_id},
                                "videoOwnerChannelTitle": snippet["channelTitle"],
                                "videoOwnerChannelId": channel_id})
                item["snippet"] = snippet
            if "contentDetails" in parts:
                item["contentDetails"] = {"videoId": video_id,
                                          "videoPublishedAt": iso_z(post.created_at)}
            items.append(item)
        more = offset + per_page < len(posts)
        return self._api_body("playlistItemListResponse", items, len(posts), per_page,
                              page_token(offset + per_page) if more else None)

    def api_videos(self, request: Request) -> Response:
        parts = self._parts(request) or {"snippet", "statistics"}
        items = []
        for video_id in [i for i in request.query.get("id", "").split(",") if i][:API_MAX_RESULTS]:
            post = self.post_by_video_id(video_id)
            if post is None:
                continue
            numbers = video_numbers(self.world.seed, post)
            item: dict = {"kind": "youtube#video", "etag": self._etag("v", post.id),
                          "id": video_id}
            if "snippet" in parts:
                snippet = self._video_snippet(post, request.base_url)
                snippet.update({"tags": list(post.tags), "categoryId": "22",
                                "localized": {"title": snippet["title"],
                                              "description": snippet["description"]}})
                item["snippet"] = snippet
            if "statistics" in parts:
                item["statistics"] = {"viewCount": str(numbers["views"]),
                                      "likeCount": str(post.favourites),
                                      "favoriteCount": "0",
                                      "commentCount": str(post.replies)}
            if "paidProductPlacementDetails" in parts:
                item["paidProductPlacementDetails"] = {
                    "hasPaidProductPlacement": self.world.post_flagged(post.id)}
            items.append(item)
        return self._api_body("videoListResponse", items, len(items), len(items))

    # -- other routes ----------------------------------------------------------------------

    def robots(self, request: Request) -> Response:
        return Response(200, ROBOTS_TXT.encode(), "text/plain; charset=utf-8")

    def image(self, request: Request) -> Response:
        return Response(200, PNG_1X1, "image/png", [("cache-control", "public, max-age=31536000")])
