"""The sandbox world served as Instagram's web endpoints, in the shapes of the real captures.

Shapes copy the captures in ``../shared/realworld/instagram`` (keys in the same order, per
media type): the 2022 ``web_profile_info`` body, the 2021 GraphQL hashtag page, the 2020
profile page with ``window._sharedData``, the app-style ``users/{id}/info`` body. Everything
is generated from the same :class:`~crawler.sandbox.world.World` as the Mastodon sandbox, so
a test can say which accounts a sweep must find. Usernames are served lower-case (Instagram
has no upper case in usernames); ids are the world's ids; a post's shortcode is its id in
Instagram's base-64 alphabet (:func:`shortcode`, :func:`media_id_of`).

Routes (GET and HEAD), all on the sandbox's origin (the spider maps both www.instagram.com
and i.instagram.com onto it):

* ``/api/v1/users/web_profile_info/?username=X``: ``data.user`` with the 12 newest posts
  (``data.user`` null for an unknown account);
* ``/api/v1/users/{id}/info/``: the app-style body (``user.pk``, ``follower_count``, ...);
* ``/graphql/query/?query_hash=H&variables=JSON``: with :data:`HASHTAG_QUERY_HASH` and
  ``{"tag_name", "first", "after"}`` a hashtag page (``edge_hashtag_to_top_posts``: the 9
  most engaging of the tag's newest 500 posts, on every page; ``edge_hashtag_to_media``:
  every post newest first, paginated by ``page_info.end_cursor``; the nodes name only
  ``owner.id``); with :data:`USER_MEDIA_QUERY_HASH` and ``{"id", "first", "after"}`` a
  page of a user's posts. ``first`` is capped at 50;
* ``/p/{shortcode}/?__a=1&__d=dis``: ``{"graphql": {"shortcode_media": ...}}``, whose
  ``owner`` names the username (and ``edge_followed_by``); without ``__a`` the post page's
  HTML with ``_sharedData.entry_data.PostPage``;
* ``/{username}/``: the profile page: ``og:description`` ("12.3k Followers, 210 Following,
  145 Posts - See Instagram photos and videos from Name (@name)") and
  ``window._sharedData.entry_data.ProfilePage[0].graphql.user`` (left out for the
  ``og_only`` share of accounts, as logged-out pages have been since 2021);
  ``/{username}`` redirects there;
* ``/accounts/login/``, ``/challenge/``: the login and checkpoint pages; ``/robots.txt``;
  ``/media/...``: a 1x1 PNG for every picture and video.

Knobs (``--knob NAME=RATE``, ``SandboxProcess(knobs=...)``, or at run time
``GET /__platform__/knobs?login_wall=0.1``; rates from 0 to 1, all 0 by default; deterministic
per account, so the same accounts are walled in every run):

* ``login_wall``: share of accounts whose profile requests (web_profile_info, users/{id}/info,
  the profile page) answer ``302`` to ``/accounts/login/?next=...``;
* ``checkpoint``: share whose API profile requests answer ``400``
  ``{"message": "checkpoint_required", "checkpoint_url": ..., "status": "fail"}`` (the profile
  page redirects to ``/challenge/``); ``login_wall + checkpoint`` is at most 1;
* ``og_only``: share of profile pages served without ``_sharedData``.

In-process they are also keyword arguments of :class:`InstagramApp`. The knobs endpoint
answers ``{"knobs": {"login_wall": ..., "checkpoint": ..., "og_only": ...}}``. Injected faults
(``--faults``) answer as Instagram does: 429 ``{"message": "Please wait a few minutes before
you try again.", ...}`` with ``Retry-After: 1``; 500/503 error pages.

Planted creator signals (:meth:`~crawler.sandbox.world.World.truth`): a flagged paid
partnership (``World.post_flagged``) has ``"is_paid_partnership": true`` and its brand in
``edge_media_to_sponsor_user`` (``{"edges": [{"node": {"sponsor": {"username": brand}}}]}``)
on the user media page and in a post's own JSON and page (other posts: false, no edges);
web_profile_info's timeline, the profile page and the hashtag listings keep the keys of their
captures, which have neither, unless the knob ``sponsor_fields=all`` (default ``graphql``;
shown in the knob state once not the default) adds them to every web media node. A
professional account whose bio gives a contact email has it as ``business_email``
(web_profile_info; ``business_contact_method`` "EMAIL") and ``public_email``
(users/{id}/info; ``""`` for the others, as the capture).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import ClassVar
from urllib.parse import quote, unquote

from crawler.sandbox.common import (
    PNG_1X1,
    AppConfig,
    Request,
    Response,
    dump_json,
    escape_html,
    parse_rate,
    unknown_knob,
)
from crawler.sandbox.instagram_graph import GraphApi
from crawler.sandbox.instagram_ids import media_id_of, shortcode
from crawler.sandbox.instagram_ids import unit as _unit
from crawler.sandbox.world import Account, Post, World

APP_ID = "936619743392459"
HASHTAG_QUERY_HASH = "9b498c08113f1e09617a1703c22b2f32"
USER_MEDIA_QUERY_HASH = "42323d64886122307be10013ad2dcc44"
TIMELINE_FIRST = 12  # posts in a profile body
DEFAULT_FIRST = 12
MAX_FIRST = 50
TOP_POSTS = 9
TOP_POOL = 500  # top posts are picked among a tag's newest posts
KNOB_NAMES = ("login_wall", "checkpoint", "og_only")
#: Values of the ``sponsor_fields`` knob: where media nodes carry the paid-partnership fields.
SPONSOR_FIELDS = ("graphql", "all")

ROBOTS_TXT = """\
# Sandbox robots.txt for the Instagram formats
User-agent: GPTBot
Disallow: /

User-agent: *
Allow: /api/v1/users/
Allow: /graphql/query/
Allow: /p/
Disallow: /accounts/
Disallow: /challenge/
Disallow: /direct/
Disallow: /explore/
"""

RATE_LIMIT_BODY = {
    "message": "Please wait a few minutes before you try again.",
    "require_login": True,
    "status": "fail",
}
_JSON_HEADERS = (
    ("cache-control", "private, no-cache, no-store, must-revalidate"),
    ("pragma", "no-cache"),
    ("vary", "Accept-Language, Cookie"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-content-type-options", "nosniff"),
    ("access-control-allow-origin", "https://www.instagram.com"),
)
_HTML = "text/html; charset=utf-8"
_USERNAME = re.compile(r"[a-z0-9._]{1,30}")
_RESERVED = frozenset({"accounts", "api", "challenge", "direct", "explore", "graphql", "media",
                       "p", "reel", "reels", "static", "stories", "tv", "web"})
#: Instagram's own category labels for the niches (professional accounts only).
CATEGORIES = {
    "fitness": "Fitness Trainer", "health": "Health/Beauty", "beauty": "Makeup Artist",
    "fashion": "Fashion Model", "food": "Chef", "travel": "Travel & Transportation",
    "gaming": "Gaming Video Creator", "tech": "Science, Technology & Engineering",
    "music": "Musician/Band", "sports": "Athlete", "parenting": "Blogger",
    "pets": "Pet Service", "finance": "Financial Service", "art": "Artist",
    "photography": "Photographer", "education": "Education", "home": "Interior Design Studio",
    "sustainability": "Nonprofit Organization", "automotive": "Automotive Service",
    "entertainment": "Entertainment Website",
}


# --- ids, cursors, knobs ------------------------------------------------------------------


def _cursor(post_id: int) -> str:
    return base64.b64encode(f"sandbox:{post_id}".encode()).decode()


def _after(cursor: str | None) -> int | None:
    """The post id a cursor names; raises ValueError for a cursor that is not ours."""
    if not cursor:
        return None
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(cursor) from None
    prefix, _, number = text.partition(":")
    if prefix != "sandbox" or not number.isdigit():
        raise ValueError(cursor)
    return int(number)


def parse_knobs(spec: str | None) -> dict[str, float]:
    """``"login_wall=0.1,checkpoint=0.05"`` -> ``{"login_wall": 0.1, "checkpoint": 0.05}``."""
    knobs: dict[str, str] = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in KNOB_NAMES:
            raise ValueError(f"bad Instagram sandbox knob {item!r}: use {'/'.join(KNOB_NAMES)}=RATE")
        knobs[name] = value
    return check_knobs(knobs)


def check_knobs(knobs: Mapping[str, str], current: Mapping[str, float] | None = None,
                ) -> dict[str, float]:
    """The rates of ``current`` (none by default) with ``knobs`` (name -> text) applied;
    ValueError with a one-line message for an unknown name, a bad rate, or walls over 1."""
    rates = dict(current or {})
    for name, value in knobs.items():
        if name not in KNOB_NAMES:
            raise unknown_knob("instagram", name, KNOB_NAMES)
        rates[name] = parse_rate(name, value)
    if rates.get("login_wall", 0.0) + rates.get("checkpoint", 0.0) > 1.0 + 1e-9:
        raise ValueError("login_wall and checkpoint add up to more than 1")
    return rates


def wall_of(seed: int, username: str, *, login_wall: float = 0.0,
            checkpoint: float = 0.0) -> str | None:
    """``"login_required"``, ``"checkpoint_required"`` or None: what an account's profile
    requests answer with these knobs (tests use it to know the walled accounts)."""
    if not login_wall and not checkpoint:
        return None
    draw = _unit(seed, "wall", username.lower())
    if draw < login_wall:
        return "login_required"
    if draw < login_wall + checkpoint:
        return "checkpoint_required"
    return None


def og_only_of(seed: int, username: str, rate: float) -> bool:
    """Whether the account's profile page leaves ``_sharedData`` out."""
    return bool(rate) and _unit(seed, "og_only", username.lower()) < rate


def compact_count(number: int) -> str:
    """Instagram's count text: ``1,234``, ``12.3k``, ``46.3m`` (cut, never rounded up)."""
    if number < 10_000:
        return f"{number:,}"
    for size, suffix in ((1_000_000, "m"), (1_000, "k")):
        if number >= size:
            tenths = number * 10 // size
            whole, tenth = divmod(tenths, 10)
            return f"{whole}.{tenth}{suffix}" if tenth and whole < 100 else f"{whole}{suffix}"
    return str(number)  # pragma: no cover - unreachable


# --- the app ------------------------------------------------------------------------------


class InstagramApp:
    name = "instagram"

    #: The knobs (``--knob NAME=VALUE``, ``/__platform__/knobs``) and what each does.
    KNOBS: ClassVar[dict[str, str]] = {
        "login_wall": "share of accounts whose profile requests redirect to the login page",
        "checkpoint": "share whose API profile requests answer 400 checkpoint_required",
        "og_only": "share of profile pages served without _sharedData",
        "sponsor_fields": "where media nodes carry is_paid_partnership and "
                          "edge_media_to_sponsor_user: graphql (the user media page and a post's "
                          "JSON, as the captures; the default) or all (every web media node)",
        **GraphApi.KNOBS,  # the Graph API's (crawler/sandbox/instagram_graph.py)
    }

    def __init__(self, world: World, *, login_wall: float = 0.0, checkpoint: float = 0.0,
                 og_only: float = 0.0) -> None:
        self.world = world
        self.seed = world.seed
        self.graph = GraphApi(world)  # the Graph API, under /graph/vNN.N/
        self.login_wall = self.checkpoint = self.og_only = 0.0
        self.sponsor_fields = "graphql"
        self.configure({"login_wall": str(login_wall), "checkpoint": str(checkpoint),
                        "og_only": str(og_only)})
        self._profile_bytes = lru_cache(maxsize=4_096)(self._render_profile)
        self._top_ids = lru_cache(maxsize=1_024)(self._compute_top_ids)
        self._routes = (
            (re.compile(r"/graph/.*"), self.graph.handle),
            (re.compile(r"/robots\.txt"), self.robots),
            (re.compile(r"/api/v1/users/web_profile_info/?"), self.web_profile_info),
            (re.compile(r"/api/v1/users/(\d+)/info/?"), self.user_info),
            (re.compile(r"/graphql/query/?"), self.graphql),
            (re.compile(r"/p/([A-Za-z0-9_-]+)/?"), self.post),
            (re.compile(r"/accounts/login/?"), self.login_page),
            (re.compile(r"/challenge/?.*"), self.challenge_page),
            (re.compile(r"/media/.+"), self.media_file),
            (re.compile(r"/([A-Za-z0-9._]{1,30})/"), self.profile_page),
            (re.compile(r"/([A-Za-z0-9._]{1,30})"), self.add_slash),
        )

    @classmethod
    def from_config(cls, world: World, config: AppConfig) -> InstagramApp:
        """The app for the sandbox server, with ``config.knobs`` (see the module docstring);
        ValueError with a one-line message for a bad knob."""
        app = cls(world)
        app.configure(config.knobs)
        return app

    def configure(self, knobs: Mapping[str, str]) -> None:
        graph = {name: value for name, value in knobs.items() if name in GraphApi.KNOBS}
        sponsor_fields = knobs.get("sponsor_fields", self.sponsor_fields).strip().lower()
        if sponsor_fields not in SPONSOR_FIELDS:
            raise ValueError(f"knob sponsor_fields must be one of {', '.join(SPONSOR_FIELDS)}, "
                             f"not {knobs['sponsor_fields']!r}")
        rates = check_knobs({name: value for name, value in knobs.items()
                             if name not in graph and name != "sponsor_fields"},
                            {name: getattr(self, name) for name in KNOB_NAMES})
        self.graph.configure(graph)
        self.login_wall, self.checkpoint, self.og_only = (rates[name] for name in KNOB_NAMES)
        self.sponsor_fields = sponsor_fields

    def knob_state(self) -> dict:
        sponsor = {} if self.sponsor_fields == "graphql" else {"sponsor_fields": self.sponsor_fields}
        return {"knobs": {**{name: getattr(self, name) for name in KNOB_NAMES}, **sponsor,
                          **self.graph.knob_values()}, "graph": self.graph.state()}

    @property
    def sponsor_everywhere(self) -> bool:
        """Whether every web media node carries the paid-partnership fields (the knob)."""
        return self.sponsor_fields == "all"

    def wall(self, username: str) -> str | None:
        return wall_of(self.seed, username, login_wall=self.login_wall,
                       checkpoint=self.checkpoint)

    # -- the server's interface ----------------------------------------------------------

    def faultable(self, path: str) -> bool:
        return not (path == "/robots.txt" or path.startswith(("/media/", "/accounts/",
                                                              "/challenge")))

    def handle(self, request: Request) -> Response:
        for pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match:
                return handler(request, *(unquote(g) for g in match.groups()))
        return self._not_found_page()

    def fault_response(self, kind: str, request: Request) -> Response:
        if request.path.startswith("/graph/"):
            return self.graph.fault_response(kind, request)
        if kind == "429":
            response = self._json(429, RATE_LIMIT_BODY)
            response.headers.append(("retry-after", "1"))
            return response
        if kind in ("500", "503"):
            title = "Error" if kind == "500" else "Service Unavailable"
            body = (f"<!DOCTYPE html><html><head><title>{title} • Instagram</title></head>"
                    "<body><h2>Oops, an error occurred.</h2></body></html>\n")
            return Response(int(kind), body.encode(), _HTML)
        raise ValueError(f"no {kind!r} response")

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _json(status: int, value: object) -> Response:
        return Response(status, dump_json(value), headers=list(_JSON_HEADERS))

    @staticmethod
    def _fail(status: int, message: str) -> Response:
        return InstagramApp._json(status, {"message": message, "status": "fail"})

    @staticmethod
    def _redirect(location: str, status: int = 302) -> Response:
        return Response(status, b"", _HTML, [("location", location),
                                             ("cache-control", "private, no-cache, no-store")])

    def _not_found_page(self) -> Response:
        body = ('<!DOCTYPE html><html lang="en"><head><title>Page Not Found • Instagram</title>'
                "</head><body><h2>Sorry, this page isn't available.</h2></body></html>\n")
        return Response(404, body.encode(), _HTML)

    def _account(self, username: str) -> Account | None:
        return self.world.account_by_username(username) if username else None

    def _blocked(self, request: Request, account: Account, *, api: bool) -> Response | None:
        """The wall this account's profile requests meet, if any."""
        wall = self.wall(account.username)
        if wall is None:
            return None
        here = quote(request.target or request.path, safe="")
        if wall == "login_required":
            return self._redirect(f"{request.base_url}/accounts/login/?next={here}")
        if api:
            return self._json(400, {
                "message": "checkpoint_required",
                "checkpoint_url": f"{request.base_url}/challenge/?next={here}",
                "lock": True,
                "flow_render_type": 0,
                "status": "fail",
            })
        return self._redirect(f"{request.base_url}/challenge/?next={here}")

    # -- routes --------------------------------------------------------------------------

    def robots(self, request: Request) -> Response:
        return Response(200, ROBOTS_TXT.encode(), "text/plain; charset=utf-8")

    def media_file(self, request: Request) -> Response:
        return Response(200, PNG_1X1, "image/png", [("cache-control", "public, max-age=31536000")])

    def web_profile_info(self, request: Request) -> Response:
        username = request.query.get("username", "").strip().lstrip("@").lower()
        if not username:
            return self._fail(400, "username is required")
        account = self._account(username)
        if account is None:
            return self._json(200, {"data": {"user": None}, "status": "ok"})
        blocked = self._blocked(request, account, api=True)
        if blocked is not None:
            return blocked
        body = self._profile_bytes(account.index, request.base_url, self.world.day,
                                   self.sponsor_fields)
        return Response(200, body, headers=list(_JSON_HEADERS))

    def user_info(self, request: Request, user_id: str) -> Response:
        account = self.world.account_by_id(user_id)
        if account is None:
            return self._fail(404, "User not found")
        blocked = self._blocked(request, account, api=True)
        if blocked is not None:
            return blocked
        return self._json(200, {"user": self.app_user(account, request.base_url), "status": "ok"})

    def graphql(self, request: Request) -> Response:
        try:
            variables = json.loads(request.query.get("variables") or "{}")
        except ValueError:
            return self._fail(400, "invalid variables")
        if not isinstance(variables, dict):
            return self._fail(400, "invalid variables")
        first = variables.get("first", DEFAULT_FIRST)
        if not isinstance(first, int) or isinstance(first, bool) or first < 1:
            return self._fail(400, "invalid first")
        first = min(first, MAX_FIRST)
        try:
            after = _after(variables.get("after"))
        except ValueError:
            return self._fail(400, "invalid cursor")
        query_hash = request.query.get("query_hash")
        if query_hash == HASHTAG_QUERY_HASH and isinstance(variables.get("tag_name"), str):
            return self._json(200, self.hashtag_page(variables["tag_name"], first, after,
                                                     request.base_url))
        if query_hash == USER_MEDIA_QUERY_HASH and variables.get("id") is not None:
            return self._json(200, self.user_media_page(str(variables["id"]), first, after,
                                                        request.base_url))
        return self._fail(400, "invalid query_hash or variables")

    def post(self, request: Request, code: str) -> Response:
        pid = media_id_of(code)
        post = self.world.post_by_id(pid) if pid else None
        if post is None:
            if request.query.get("__a"):
                return self._fail(404, "Media not found or unavailable")
            return self._not_found_page()
        media = self.shortcode_media(post, request.base_url)
        if request.query.get("__a"):
            return self._json(200, {"graphql": {"shortcode_media": media}})
        shared = {"config": {"csrf_token": "sandbox", "viewer": None, "viewerId": None},
                  "country_code": "US", "language_code": "en", "locale": "en_US",
                  "entry_data": {"PostPage": [{"graphql": {"shortcode_media": media}}]}}
        title = f"{media['owner']['full_name']} on Instagram"
        return Response(200, self._page(title, {}, shared, lang="en").encode(), _HTML)

    def login_page(self, request: Request) -> Response:
        meta = {"og:title": "Login • Instagram",
                "og:url": "https://www.instagram.com/accounts/login/"}
        form = ('<form method="post" action="/accounts/login/ajax/">'
                '<input name="username"><input type="password" name="password"></form>')
        return Response(200, self._page("Login • Instagram", meta, None, body=form).encode(), _HTML)

    def challenge_page(self, request: Request) -> Response:
        form = '<form method="post" action="/challenge/"><button>Send Security Code</button></form>'
        shared = {"config": {"viewer": None}, "entry_data": {"Challenge": [{}]}}
        return Response(200, self._page("Instagram", {}, shared, body=form).encode(), _HTML)

    def add_slash(self, request: Request, username: str) -> Response:
        if username.lower() in _RESERVED:
            return self._not_found_page()
        return self._redirect(f"{request.base_url}/{username}/", status=301)

    def profile_page(self, request: Request, username: str) -> Response:
        account = None if username.lower() in _RESERVED else self._account(username)
        if account is None:
            return self._not_found_page()
        blocked = self._blocked(request, account, api=False)
        if blocked is not None:
            return blocked
        base = request.base_url
        name = account.username.lower()
        full_name = account.display_name or name
        description = (
            f"{compact_count(account.followers)} Followers, {compact_count(account.following)} "
            f"Following, {compact_count(account.statuses_count)} Posts - See Instagram photos "
            f"and videos from {full_name} (@{name})"
        )
        meta = {
            "description": description,
            "og:type": "profile",
            "og:image": f"{base}/media/profile/{account.id}.jpg",
            "og:title": f"{full_name} (@{name}) • Instagram photos and videos",
            "og:description": description,
            "og:url": f"https://www.instagram.com/{name}/",
        }
        shared = None
        if not og_only_of(self.seed, name, self.og_only):
            shared = {
                "config": {"csrf_token": "sandbox", "viewer": None, "viewerId": None},
                "country_code": "US",
                "language_code": "en",
                "locale": "en_US",
                "entry_data": {"ProfilePage": [{
                    "logging_page_id": f"profilePage_{account.id}",
                    "show_suggested_profiles": True,
                    "show_follow_dialog": False,
                    "graphql": {"user": self.page_user(account, base)},
                    "toast_content_on_load": None,
                }]},
                "hostname": "www.instagram.com",
                "is_whitelisted_crawl_bot": False,
                "platform": "web",
            }
        html = self._page(f"{full_name} (@{name}) • Instagram photos and videos", meta, shared,
                          lang="en", canonical=f"https://www.instagram.com/{name}/")
        return Response(200, html.encode(), _HTML)

    @staticmethod
    def _page(title: str, meta: dict[str, str], shared: dict | None, *, lang: str = "en",
              canonical: str | None = None, body: str = "") -> str:
        parts = [f'<!DOCTYPE html>\n<html lang="{lang}" class="no-js not-logged-in client-root">'
                 f'<head><meta charset="utf-8"><title>{escape_html(title)}</title>']
        for key, value in meta.items():
            attribute = "name" if key == "description" else "property"
            parts.append(f'<meta {attribute}="{key}" content="{escape_html(value)}" />')
        if canonical:
            parts.append(f'<link rel="canonical" href="{escape_html(canonical)}" />')
        parts.append("</head><body>")
        parts.append(f'<span id="react-root">{body}</span>')
        if shared is not None:
            # "</" would end the script early (bios hold HTML-looking text): JSON allows "\/".
            data = json.dumps(shared, ensure_ascii=False, separators=(",", ":"))
            data = data.replace("</", "<\\/")
            parts.append(f'<script type="text/javascript">window._sharedData = {data};</script>')
        parts.append("</body></html>\n")
        return "".join(parts)

    # -- listings ------------------------------------------------------------------------

    def _compute_top_ids(self, tag: str) -> tuple[int, ...]:
        ids = self.world.tag_post_ids(tag)[-TOP_POOL:]
        scored = []
        for pid in ids:
            post = self.world.post(pid)
            scored.append((post.favourites + post.replies, pid))
        scored.sort(reverse=True)
        return tuple(pid for _, pid in scored[:TOP_POSTS])

    def hashtag_page(self, tag: str, first: int, after: int | None, base: str) -> dict:
        """``data.hashtag`` for one page of a tag's listings (``data.hashtag`` null for a
        tag nobody used)."""
        name = tag.strip().lstrip("#").lower()
        ids = self.world.tag_post_ids(name) if name else ()
        if not ids:
            return {"data": {"hashtag": None}, "status": "ok"}
        page, more = _newest_first(ids, first, after)
        top = self._top_ids(name)
        return {
            "data": {
                "hashtag": {
                    "id": str(17841560000000000 + int(_unit("tag", name) * 10**10)),
                    "name": name,
                    "allow_following": True,
                    "is_following": False,
                    "is_top_media_only": False,
                    "profile_pic_url": f"{base}/media/{shortcode(top[0])}_s150.jpg",
                    "profile_pic_url_hd": f"{base}/media/{shortcode(top[0])}_s150.jpg",
                    "edge_hashtag_to_media": {
                        "count": len(ids),
                        "page_info": {"has_next_page": more,
                                      "end_cursor": _cursor(page[-1]) if page else None},
                        "edges": [{"node": self.tag_node(self.world.post(pid), base, top=False)}
                                  for pid in page],
                    },
                    "edge_hashtag_to_top_posts": {
                        "edges": [{"node": self.tag_node(self.world.post(pid), base, top=True)}
                                  for pid in top],
                    },
                    "edge_hashtag_to_content_advisory": {"count": 0, "edges": []},
                }
            },
            "status": "ok",
        }

    def user_media_page(self, user_id: str, first: int, after: int | None, base: str) -> dict:
        account = self.world.account_by_id(user_id)
        if account is None:
            return {"data": {"user": None}, "status": "ok"}
        return {"data": {"user": {"edge_owner_to_timeline_media":
                                  self._timeline(account, base, first, after, sponsor=True)}},
                "status": "ok"}

    def _timeline(self, account: Account, base: str, first: int, after: int | None, *,
                  sponsor: bool = False) -> dict:
        ids = self.world.post_ids(account)
        page, more = _newest_first(ids, first, after)
        return {
            "count": account.statuses_count,
            "page_info": {"has_next_page": more,
                          "end_cursor": _cursor(page[-1]) if page and more else None},
            "edges": [{"node": self.timeline_node(self.world.post(pid), base, sponsor=sponsor)}
                      for pid in page],
        }

    # -- users -----------------------------------------------------------------------------

    def _extras(self, account: Account) -> dict:
        """Instagram-only details of an account, fixed by the seed."""
        draw = _unit(self.seed, "ig-account", account.index)
        professional = draw < 0.45
        pronouns = next((f.value for f in account.fields if f.name == "Pronouns"), None)
        email = self.world.truth(account.index).email
        return {
            "professional": professional,
            # a professional account's contact email (the one its bio gives), as its contact
            # button shows it: about half of the accounts with an email
            "email": email if professional else None,
            "category": CATEGORIES.get(account.niche) if professional else None,
            "verified": account.followers >= 1_000_000,
            "highlights": int(_unit(self.seed, "highlights", account.index) * 12),
            "pronouns": [p.strip() for p in pronouns.split("/")] if pronouns else [],
            "fbid": str(17841400000000000 + account.index),
        }

    def _render_profile(self, index: int, base: str, day: int = 0,
                        sponsor_fields: str = "graphql") -> bytes:
        """web_profile_info's body (``day`` and ``sponsor_fields``: the world's day and the
        knob, keys of the cache only)."""
        account = self.world.account(index)
        return dump_json({"data": {"user": self.web_user(account, base)}, "status": "ok"})

    def web_user(self, account: Account, base: str) -> dict:
        """``data.user`` of web_profile_info (the 2022 capture's keys, in its order)."""
        extra = self._extras(account)
        name = account.username.lower()
        empty = {"count": 0, "page_info": {"has_next_page": False, "end_cursor": None},
                 "edges": []}
        return {
            "biography": account.note,
            "blocked_by_viewer": False,
            "restricted_by_viewer": False,
            "country_block": False,
            "external_url": account.website,
            "external_url_linkshimmed": (
                f"https://l.instagram.com/?u={quote(account.website, safe='')}"
                if account.website else None
            ),
            "edge_followed_by": {"count": account.followers},
            "fbid": extra["fbid"],
            "followed_by_viewer": False,
            "edge_follow": {"count": account.following},
            "follows_viewer": False,
            "full_name": account.display_name,
            "has_ar_effects": False,
            "has_clips": any(m.kind != "image" for p in self._newest(account) for m in p.media),
            "has_guides": False,
            "has_channel": False,
            "has_blocked_viewer": False,
            "highlight_reel_count": extra["highlights"],
            "has_requested_viewer": False,
            "hide_like_and_view_counts": False,
            "id": account.id,
            "is_business_account": extra["professional"],
            "is_professional_account": extra["professional"],
            "is_supervision_enabled": False,
            "is_guardian_of_viewer": False,
            "is_supervised_by_viewer": False,
            "is_embeds_disabled": False,
            "is_joined_recently": False,
            "guardian_id": None,
            "business_address_json": None,
            "business_contact_method": (
                ("EMAIL" if extra["email"] else "UNKNOWN") if extra["professional"] else None
            ),
            "business_email": extra["email"],
            "business_phone_number": None,
            "business_category_name": "Creators & Celebrities" if extra["professional"] else None,
            "overall_category_name": None,
            "category_enum": None,
            "category_name": extra["category"],
            "is_private": False,
            "is_verified": extra["verified"],
            "edge_mutual_followed_by": {"count": 0, "edges": []},
            "profile_pic_url": f"{base}/media/profile/{account.id}_s150.jpg",
            "profile_pic_url_hd": f"{base}/media/profile/{account.id}_s320.jpg",
            "requested_by_viewer": False,
            "should_show_category": extra["professional"],
            "should_show_public_contacts": extra["email"] is not None,
            "state_controlled_media_country": None,
            "transparency_label": None,
            "transparency_product": None,
            "username": name,
            "connected_fb_page": None,
            "pronouns": extra["pronouns"],
            "edge_felix_video_timeline": dict(empty),
            "edge_owner_to_timeline_media": self._timeline(account, base, TIMELINE_FIRST, None),
            "edge_saved_media": dict(empty),
            "edge_media_collections": dict(empty),
        }

    def page_user(self, account: Account, base: str) -> dict:
        """``_sharedData ... ProfilePage[0].graphql.user`` (the 2020 page's keys and order)."""
        user = self.web_user(account, base)
        user["category_id"] = None
        keys = ("biography", "blocked_by_viewer", "restricted_by_viewer", "country_block",
                "external_url", "external_url_linkshimmed", "edge_followed_by",
                "followed_by_viewer", "edge_follow", "follows_viewer", "full_name",
                "has_ar_effects", "has_channel", "has_blocked_viewer", "highlight_reel_count",
                "has_requested_viewer", "id", "is_business_account", "is_joined_recently",
                "business_category_name", "category_id", "overall_category_name", "is_private",
                "is_verified", "edge_mutual_followed_by", "profile_pic_url", "profile_pic_url_hd",
                "requested_by_viewer", "username", "connected_fb_page",
                "edge_felix_video_timeline", "edge_owner_to_timeline_media", "edge_saved_media",
                "edge_media_collections")
        out = {key: user[key] for key in keys}
        timeline = dict(out["edge_owner_to_timeline_media"])
        timeline["edges"] = [{"node": self.page_node(edge["node"])} for edge in timeline["edges"]]
        out["edge_owner_to_timeline_media"] = timeline
        return out

    def app_user(self, account: Account, base: str) -> dict:
        """``user`` of the app-style ``/api/v1/users/{id}/info/`` (keys of the capture)."""
        extra = self._extras(account)
        return {
            "pk": int(account.id),
            "username": account.username.lower(),
            "full_name": account.display_name,
            "is_private": False,
            "profile_pic_url": f"{base}/media/profile/{account.id}_s150.jpg",
            "is_verified": extra["verified"],
            "has_anonymous_profile_picture": account.avatar_key is None,
            "media_count": account.statuses_count,
            "follower_count": account.followers,
            "following_count": account.following,
            "following_tag_count": 0,
            "biography": account.note,
            "external_url": account.website or "",
            "total_igtv_videos": 0,
            "has_videos": any(m.kind != "image" for p in self._newest(account) for m in p.media),
            "usertags_count": 0,
            "is_favorite": False,
            "has_highlight_reels": extra["highlights"] > 0,
            "category": extra["category"],
            "public_email": extra["email"] or "",
            "is_business": extra["professional"],
            "account_type": 2 if extra["professional"] else 1,
            "should_show_public_contacts": extra["email"] is not None,
            "pronouns": extra["pronouns"],
        }

    def _newest(self, account: Account) -> list[Post]:
        ids = self.world.post_ids(account)[-TIMELINE_FIRST:]
        return [self.world.post(pid) for pid in reversed(ids)]

    # -- posts -----------------------------------------------------------------------------

    @staticmethod
    def _typename(post: Post) -> str:
        if len(post.media) > 1:
            return "GraphSidecar"
        if post.media and post.media[0].kind != "image":
            return "GraphVideo"
        return "GraphImage"

    @staticmethod
    def _dimensions(post: Post) -> dict:
        if post.media:
            return {"height": post.media[0].height, "width": post.media[0].width}
        return {"height": 1080, "width": 1080}

    @staticmethod
    def _views(post: Post) -> int:
        return post.favourites * 7 + post.replies * 31 + int(post.id) % 97

    @staticmethod
    def _thumbnails(base: str, code: str) -> list[dict]:
        return [{"src": f"{base}/media/{code}_s{size}.jpg", "config_width": size,
                 "config_height": size} for size in (150, 240, 320, 480, 640)]

    def _caption(self, post: Post) -> dict:
        return {"edges": [{"node": {"text": post.text}}] if post.text else []}

    def _accessibility(self, post: Post) -> str | None:
        if post.media and post.media[0].description:
            return post.media[0].description
        author = self.world.account(post.account_index)
        return f"Photo by {author.display_name or author.username} on {post.created_at:%B %d, %Y}."

    def paid_partnership(self, post: Post) -> dict:
        """The paid-partnership flag: ``is_paid_partnership`` and the brand in
        ``edge_media_to_sponsor_user`` for a flagged post, false and no edges otherwise."""
        brand = self.world.post_brand(post.id) if self.world.post_flagged(post.id) else None
        edges = [{"node": {"sponsor": {"username": brand}}}] if brand else []
        return {"edge_media_to_sponsor_user": {"edges": edges},
                "is_paid_partnership": brand is not None}

    def timeline_node(self, post: Post, base: str, *, sponsor: bool = False) -> dict:
        """A post as a profile's timeline shows it (the 2022 capture's keys per type).

        ``sponsor``: with the paid-partnership fields (:meth:`paid_partnership`), as the user
        media page (whose 2020 capture has ``edge_media_to_sponsor_user``) and a post's own
        JSON serve them; web_profile_info's timeline, the profile page's and the hashtag
        listings keep their captures' keys, which have none, unless the ``sponsor_fields``
        knob is ``all``."""
        author = self.world.account(post.account_index)
        code = shortcode(post.id)
        kind = self._typename(post)
        video = kind == "GraphVideo"
        node: dict = {
            "__typename": kind,
            "id": post.id,
            "shortcode": code,
            "dimensions": self._dimensions(post),
            "display_url": f"{base}/media/{code}.jpg",
            "edge_media_to_tagged_user": {"edges": []},
            "fact_check_overall_rating": None,
            "fact_check_information": None,
            "gating_info": None,
            "sharing_friction_info": {"should_have_sharing_friction": False,
                                      "bloks_app_url": None},
            "media_overlay_info": None,
            "media_preview": None,
            "owner": {"id": author.id, "username": author.username.lower()},
            "is_video": video,
            "has_upcoming_event": False,
            "accessibility_caption": None if video else self._accessibility(post),
        }
        if video:
            node.update({
                "dash_info": {"is_dash_eligible": False, "video_dash_manifest": None,
                              "number_of_qualities": 0},
                "has_audio": True,
                "tracking_token": base64.b64encode(f'{{"media":"{post.id}"}}'.encode()).decode(),
                "video_url": f"{base}/media/{code}.mp4",
                "video_view_count": self._views(post),
            })
        node.update({
            "edge_media_to_caption": self._caption(post),
            "edge_media_to_comment": {"count": post.replies},
            **(self.paid_partnership(post) if sponsor or self.sponsor_everywhere else {}),
            "comments_disabled": False,
            "taken_at_timestamp": int(post.created_at.timestamp()),
            "edge_liked_by": {"count": post.favourites},
            "edge_media_preview_like": {"count": post.favourites},
            "location": None,
            "nft_asset_info": None,
            "thumbnail_src": f"{base}/media/{code}_s640.jpg",
            "thumbnail_resources": self._thumbnails(base, code),
        })
        if video:
            node["felix_profile_grid_crop"] = None
        node.update({"coauthor_producers": [], "pinned_for_users": []})
        if video:
            node.update({"product_type": "clips", "clips_music_attribution_info": None})
        if kind == "GraphSidecar":
            node["edge_sidecar_to_children"] = {"edges": [
                {"node": {
                    "__typename": "GraphVideo" if m.kind != "image" else "GraphImage",
                    "id": m.id,
                    "shortcode": shortcode(m.id),
                    "dimensions": {"height": m.height, "width": m.width},
                    "display_url": f"{base}/media/{m.key}.jpg",
                    "is_video": m.kind != "image",
                    "accessibility_caption": m.description,
                }} for m in post.media
            ]}
        return node

    @staticmethod
    def page_node(node: dict) -> dict:
        """A timeline node as the 2020 profile page shows it (with the paid-partnership
        fields when the node has them: the ``sponsor_fields`` knob)."""
        keys = ["__typename", "id", "shortcode", "dimensions", "display_url", "gating_info",
                "fact_check_overall_rating", "fact_check_information", "media_preview", "owner",
                "is_video", "accessibility_caption", "edge_media_to_caption",
                "edge_media_to_comment", "comments_disabled", "taken_at_timestamp",
                "edge_liked_by", "edge_media_preview_like", "location", "thumbnail_src",
                "thumbnail_resources"]
        if node["__typename"] == "GraphVideo":
            keys += ["felix_profile_grid_crop", "video_view_count"]
        elif node["__typename"] == "GraphSidecar":
            keys.append("edge_sidecar_to_children")
        keys += [key for key in ("edge_media_to_sponsor_user", "is_paid_partnership") if key in node]
        return {key: node[key] for key in keys}

    def tag_node(self, post: Post, base: str, *, top: bool) -> dict:
        """A post as a hashtag listing shows it (the 2021 capture's keys): owner id only."""
        code = shortcode(post.id)
        video = self._typename(post) == "GraphVideo"
        node: dict = {} if top else {"comments_disabled": False}
        node.update({
            "__typename": self._typename(post),
            "id": post.id,
            "edge_media_to_caption": self._caption(post),
            "shortcode": code,
            "edge_media_to_comment": {"count": post.replies},
            "taken_at_timestamp": int(post.created_at.timestamp()),
            "dimensions": self._dimensions(post),
            "display_url": f"{base}/media/{code}.jpg",
            "edge_liked_by": {"count": post.favourites},
            "edge_media_preview_like": {"count": post.favourites},
            "owner": {"id": self.world.account(post.account_index).id},
            "thumbnail_src": f"{base}/media/{code}_s640.jpg",
            "thumbnail_resources": self._thumbnails(base, code),
            "is_video": video,
        })
        if video:
            node["video_view_count"] = self._views(post)
        else:
            node["accessibility_caption"] = self._accessibility(post)
        if self.sponsor_everywhere:
            node.update(self.paid_partnership(post))
        return node

    def shortcode_media(self, post: Post, base: str) -> dict:
        """``graphql.shortcode_media`` of a post's JSON: the timeline node with a full owner."""
        author = self.world.account(post.account_index)
        node = self.timeline_node(post, base, sponsor=True)
        node["owner"] = {
            "id": author.id,
            "is_verified": self._extras(author)["verified"],
            "profile_pic_url": f"{base}/media/profile/{author.id}_s150.jpg",
            "username": author.username.lower(),
            "blocked_by_viewer": False,
            "restricted_by_viewer": None,
            "followed_by_viewer": False,
            "full_name": author.display_name,
            "has_blocked_viewer": False,
            "is_private": False,
            "is_unpublished": False,
            "requested_by_viewer": False,
            "edge_owner_to_timeline_media": {"count": author.statuses_count},
            "edge_followed_by": {"count": author.followers},
        }
        return node


def _newest_first(ids: Sequence[int], first: int, after: int | None) -> tuple[list[int], bool]:
    """One page of ``ids`` (ascending) newest first, after the cursor's post; and whether
    older posts remain."""
    high = bisect_left(ids, after) if after is not None else len(ids)
    low = max(0, high - first)
    return list(reversed(ids[low:high])), low > 0


__all__ = [
    "APP_ID",
    "HASHTAG_QUERY_HASH",
    "KNOB_NAMES",
    "USER_MEDIA_QUERY_HASH",
    "InstagramApp",
    "check_knobs",
    "compact_count",
    "media_id_of",
    "og_only_of",
    "parse_knobs",
    "shortcode",
    "wall_of",
]
