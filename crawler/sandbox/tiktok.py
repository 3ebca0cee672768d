"""The sandbox world served as TikTok's web app: profile, video and tag pages, post lists.

Shapes copy the real captures in ``../shared/realworld/tiktok`` (see ``SOURCES.md``): the
profile page's ``<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__">`` holding
``__DEFAULT_SCOPE__["webapp.user-detail"].userInfo`` (``user`` with the 2026 capture's keys,
rounded ``stats`` integers and exact ``statsV2`` strings, ``itemList`` empty as TikTok serves
it today), video items with the keys of the ``__NEXT_DATA__`` capture's ``items[]`` plus the
2026 ones (``statsV2``, ``contents[].textExtra``, ``collectCount``), and the item-list XHR
bodies (``itemList``, ``cursor``, ``hasMore``). Every URL in a body points at the sandbox.

Routes (GET and HEAD):

* ``/@:handle`` profile page; ``/@:handle/video/:id`` video page (``webapp.video-detail``);
  ``/tag/:tag`` tag page (``webapp.challenge-detail``: the challenge id, no videos).
* ``/api/challenge/item_list/?challengeID=&cursor=&count=``: a tag's videos, ``cursor`` an
  offset (TikTok ranks tag listings; the sandbox ranks newest first), each video with its
  ``author`` and ``authorStats``.
* ``/api/post/item_list/?secUid=&cursor=&count=``: an account's videos, newest first,
  ``cursor`` the ``createTime`` in milliseconds of the last video returned.
* ``/robots.txt``; avatars and covers (a 1x1 PNG).
* POST and ``/v2/``: the Research API (:mod:`crawler.sandbox.tiktok_research`, its own knobs).

Data the world lacks is derived deterministically from the post (a seeded hash): play
counts (``views``: interactions divided by a per-video rate between 3% and 14%), video
duration, music id. TikTok's words map onto the world's: diggs = favourites, comments =
replies, shares = reblogs, collects = quotes. A video's ``isAd`` is true for the world's flagged
paid partnerships (``World.post_flagged``); an account's ``heart`` comes from its day-0
followers (bought followers never like anything).

Knobs (``--knob NAME=VALUE``, ``SandboxProcess(knobs=...)``, or at run time through the
server's ``GET /__platform__/knobs?captcha=0.1&scope=profiles``, never faulted or blocked):

* ``captcha`` (a rate from 0 to 1, default 0): the share of eligible requests answered with
  TikTok's captcha instead of data: ``{"code":"10000","type":"verify",...}`` on the JSON API,
  the slider verification page on HTML routes;
* ``scope``: which requests are eligible: ``all`` (default), ``profiles`` (profile and video
  pages, an account's post list) or ``listings`` (tag pages, a tag's item list).

Whether a URL is blocked is a function of (seed, URL): the same URL is blocked every time,
whatever the timing. The knobs endpoint answers the knobs and the block pages served so far:
``{"knobs": {"captcha": 0.1, "scope": "profiles"}, "served": {"captcha": 3}}``.
:class:`BlockInjector` and :func:`video_numbers` are shared with :mod:`crawler.sandbox.youtube`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import ClassVar
from urllib.parse import unquote

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
from crawler.sandbox.tiktok_research import ResearchApi
from crawler.sandbox.world import Account, Post, World

PAGE_SIZE = 30  # what the web app asks for
MAX_COUNT = 35
SEC_UID_PREFIX = "MS4wLjABAAAA"  # every real secUid starts with it
CDN_PATH = "/tos-sandbox"

ROBOTS_TXT = """\
# Sandbox robots.txt. Check the live platform's own before crawling it.
User-agent: *
Disallow: /auth/
Disallow: /embed/
Disallow: /inapp/
Disallow: /link/
Allow: /
"""

_HTML = "text/html; charset=utf-8"
_CAPTCHA_HTML = """\
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>TikTok - Make Your Day</title>
<script src="https://sf16-website-login.neutral.ttwstatic.com/obj/tiktok_web_login_static/secsdk-captcha/2.26.0/index.js"></script>
</head><body><div id="captcha-verify-container-main-page" class="captcha-verify-container">
<div class="captcha_verify_bar"><div class="verify-bar-close"></div>Verify to continue:</div>
<div class="captcha_verify_slide--slidebar">Drag the slider to fit the puzzle</div></div>
</body></html>
"""


# --------------------------------------------------------------------------- shared helpers


def seeded(seed: int, *parts: object) -> float:
    """A uniform float in [0, 1) from (seed, parts): the same on every machine and run."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def round_sig(value: int, digits: int = 3) -> int:
    """``4001943`` -> ``4000000``: the rounded integers TikTok's ``stats`` carry."""
    if value < 10**digits:
        return value
    scale = 10 ** (len(str(value)) - digits)
    return (value + scale // 2) // scale * scale


def video_numbers(seed: int, post: Post) -> dict[str, int]:
    """Plays, duration and a music id the world does not model, derived from the post.

    ``views`` keeps (likes + comments) / views between 3% and 14% per video, so engagement
    per view is defined and varies.
    """
    interactions = post.favourites + post.replies
    rate = 0.03 + 0.11 * seeded(seed, "view-rate", post.id)
    views = max(interactions, round(interactions / rate)) + int(50 * seeded(seed, "views", post.id))
    return {
        "views": max(1, views),
        "duration": 6 + int(174 * seeded(seed, "duration", post.id)),
        "music_id": 7_000_000_000_000_000_000 + int(1e17 * seeded(seed, "music", post.id)),
    }


class BlockInjector:
    """Deterministic block pages at a rate: (seed, kind order, URL) decide, nothing else.

    ``rates`` maps a block kind to the share of eligible requests that get it; ``scope`` says
    which requests are eligible (``all``, ``profiles``, ``listings``). Thread-safe.
    """

    SCOPES = ("all", "profiles", "listings")

    def __init__(self, kinds: Iterable[str], seed: int, *, platform: str = "tiktok") -> None:
        self.kinds = tuple(kinds)
        self.seed = seed
        self.platform = platform
        self.rates: dict[str, float] = {}
        self.scope = "all"
        self.served: Counter[str] = Counter()
        self._lock = threading.Lock()

    def configure(self, knobs: Mapping[str, str]) -> None:
        """Apply ``kind=rate`` and ``scope=``; raises ValueError (one line), changing nothing."""
        rates = dict(self.rates)
        scope = self.scope
        for name, value in knobs.items():
            if name == "scope":
                if value not in self.SCOPES:
                    raise ValueError(f"knob scope must be one of {', '.join(self.SCOPES)}, "
                                     f"not {value!r}")
                scope = value
            elif name in self.kinds:
                rates[name] = parse_rate(name, value)
            else:
                raise unknown_knob(self.platform, name, (*self.kinds, "scope"))
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("block rates add up to more than 1")
        with self._lock:
            self.rates = {k: v for k, v in rates.items() if v}
            self.scope = scope

    def decide(self, target: str, route_class: str) -> str | None:
        """The block kind for this URL (``route_class``: "profile" or "listing"), or None."""
        if not self.rates or (self.scope != "all" and self.scope != route_class + "s"):
            return None
        draw = seeded(self.seed, "block", target)
        bound = 0.0
        for kind in self.kinds:
            bound += self.rates.get(kind, 0.0)
            if draw < bound:
                with self._lock:
                    self.served[kind] += 1
                return kind
        return None

    def state(self) -> dict:
        with self._lock:
            return {"knobs": {**self.rates, "scope": self.scope}, "served": dict(self.served)}


def script_json(value: object) -> str:
    """JSON safe inside ``<script>``: ``</script>`` in user text cannot end the element."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


# --------------------------------------------------------------------------- the app


class TikTokApp:
    name = "tiktok"
    accepts_post = True  # the Research API
    #: The knobs (``--knob NAME=VALUE``, ``/__platform__/knobs``) and what each does.
    KNOBS: ClassVar[dict[str, str]] = {
        "captcha": "share of eligible requests answered with the captcha (0 to 1)",
        "scope": "which requests are eligible: all, profiles or listings",
        **ResearchApi.KNOBS,
    }

    def __init__(self, world: World) -> None:
        self.world = world
        self.blocks = BlockInjector(("captcha",), world.seed, platform=self.name)
        self.research = ResearchApi(world, web=self, video_numbers=video_numbers)
        self._challenges: dict[str, str] | None = None  # challenge id -> tag
        self._challenges_lock = threading.Lock()
        self._routes = (
            (re.compile(r"/robots\.txt"), self.robots, None),
            (re.compile(r"/api/challenge/item_list/?"), self.challenge_item_list, "listing"),
            (re.compile(r"/api/post/item_list/?"), self.post_item_list, "profile"),
            (re.compile(r"/tag/([^/]+)/?"), self.tag_page, "listing"),
            (re.compile(r"/@([^/]+)/video/(\d+)/?"), self.video_page, "profile"),
            (re.compile(r"/@([^/]+)/?"), self.profile_page, "profile"),
            (re.compile(CDN_PATH + r"/.+"), self.media_file, None),
        )

    @classmethod
    def from_config(cls, world: World, config: AppConfig) -> TikTokApp:
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
        research = self.research.parse({k: v for k, v in knobs.items() if k in ResearchApi.KNOBS})
        self.blocks.configure({k: v for k, v in knobs.items() if k not in ResearchApi.KNOBS})
        self.research.apply(research)

    def knob_state(self) -> dict:
        state = self.blocks.state()
        if self.research.touched:
            state["research"] = self.research.state()
        return state

    def faultable(self, path: str) -> bool:
        return path != "/robots.txt" and not path.startswith(CDN_PATH)

    def handle(self, request: Request) -> Response:
        if self.research.owns(request):
            return self.research.handle(request)
        for pattern, handler, route_class in self._routes:
            match = pattern.fullmatch(request.path)
            if match:
                if route_class and self.blocks.decide(request.target, route_class):
                    return self.captcha(request)
                return handler(request, *(unquote(g) for g in match.groups()))
        if request.path.startswith("/api/"):
            return Response(404, dump_json({"statusCode": 404, "status_msg": "not found"}))
        return Response(404, b"<!DOCTYPE html><title>Page not available</title>", _HTML)

    def fault_response(self, kind: str, request: Request) -> Response:
        if self.research.owns(request):
            return self.research.fault_response(kind, request)
        if kind == "429":
            return Response(429, b"", "text/plain", [("retry-after", "1")])
        if kind in ("500", "503"):
            body = b"<!DOCTYPE html><html><body><h1>Something went wrong</h1></body></html>"
            return Response(int(kind), body, _HTML)
        raise ValueError(f"no {kind!r} response")

    def captcha(self, request: Request) -> Response:
        if request.path.startswith("/api/"):
            fingerprint = hashlib.blake2b(request.target.encode(), digest_size=12).hexdigest()
            return Response(200, dump_json({
                "code": "10000", "from": "", "type": "verify", "version": "", "region": "va",
                "subtype": "slide", "detail": fingerprint, "verify_event": "",
                "fp": f"verify_{fingerprint}",
            }))
        return Response(200, _CAPTCHA_HTML.encode(), _HTML)

    # -- ids -----------------------------------------------------------------------------

    def sec_uid(self, account: Account) -> str:
        digest = hashlib.blake2b(f"{self.world.seed}:{account.index}".encode(),
                                 digest_size=40).digest()
        raw = account.index.to_bytes(4, "big") + digest
        return SEC_UID_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def account_by_sec_uid(self, sec_uid: str) -> Account | None:
        if not sec_uid.startswith(SEC_UID_PREFIX):
            return None
        text = sec_uid[len(SEC_UID_PREFIX):]
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError:
            return None
        index = int.from_bytes(raw[:4], "big")
        if len(raw) != 44 or index >= self.world.size:
            return None
        account = self.world.account(index)
        return account if self.sec_uid(account) == sec_uid else None

    def challenge_id(self, tag: str) -> str:
        return str(int(seeded(self.world.seed, "challenge", tag.lower()) * 10**16) + 10**15)

    def tag_of_challenge(self, challenge_id: str) -> str | None:
        with self._challenges_lock:
            if self._challenges is None:
                self._challenges = {self.challenge_id(t): t for t in self.world.tags()}
        return self._challenges.get(challenge_id)

    def handle_of(self, account: Account) -> str:
        return account.username.lower()  # TikTok's uniqueId is lower-case

    # -- JSON shapes ---------------------------------------------------------------------

    def _asset(self, base: str, kind: str, key: object, size: int | None = None) -> str:
        suffix = f"~c5_{size}x{size}.jpeg" if size else ".jpeg"
        return f"{base}{CDN_PATH}/{kind}/{key}{suffix}"

    def user_json(self, account: Account, base: str, *, full: bool = True) -> dict:
        """``userInfo.user`` (the 2026 capture's keys) or, with ``full=False``, an item's
        ``author`` (the 2021 capture's keys)."""
        avatar = account.avatar_key or "default"
        user: dict = {
            "id": account.id,
            "shortId": "",
            "uniqueId": self.handle_of(account),
            "nickname": account.display_name or account.username,
            "avatarLarger": self._asset(base, "avt", avatar, 1080),
            "avatarMedium": self._asset(base, "avt", avatar, 720),
            "avatarThumb": self._asset(base, "avt", avatar, 100),
            "signature": account.note,
            "createTime": int(account.created_at.timestamp()),
            "verified": account.followers >= 1_000_000,
            "secUid": self.sec_uid(account),
            "ftc": False,
            "relation": 0,
            "openFavorite": False,
            "commentSetting": 0,
            "duetSetting": 0,
            "stitchSetting": 0,
            "privateAccount": account.locked,
            "secret": False,
        }
        if not full:
            return user
        extra: dict = {"isADVirtual": False, "roomId": "", "uniqueIdModifyTime": 0,
                       "ttSeller": False, "downloadSetting": 0,
                       "profileTab": {"showMusicTab": False, "showQuestionTab": True,
                                      "showPlayListTab": True},
                       "followingVisibility": 1, "recommendReason": "",
                       "nowInvitationCardUrl": "",
                       "nickNameModifyTime": int(account.created_at.timestamp()) + 146,
                       "isEmbedBanned": False, "canExpPlaylist": True,
                       "profileEmbedPermission": 1, "language": account.language,
                       "eventList": [], "suggestAccountBind": False, "isOrganization": 0,
                       "UserStoryStatus": 0}
        commerce: dict = {"commerceUser": False}
        if seeded(self.world.seed, "commerce", account.index) < 0.2:
            commerce = {"commerceUser": True, "category": self.world.niche(account.index).title()}
        ordered: dict = {}
        for key, value in user.items():
            ordered[key] = value
            if key == "openFavorite" and account.website:
                ordered["bioLink"] = {"link": account.website, "risk": 0}
            if key == "openFavorite":
                ordered["commentSetting"] = 0
                ordered["commerceUserInfo"] = commerce
        ordered.update(extra)
        return ordered

    def user_stats(self, account: Account) -> tuple[dict, dict]:
        """(``stats`` with TikTok's rounded integers, ``statsV2`` with exact strings)."""
        # likes come from the followers who engage: the base count (bought ones never do)
        heart = int(self.world.base_followers(account.index) * account.engagement
                    * account.statuses_count * 0.9)
        digg = int(account.following * 4 * seeded(self.world.seed, "digg", account.index))
        exact = {
            "followerCount": account.followers,
            "followingCount": account.following,
            "heart": heart,
            "heartCount": heart,
            "videoCount": account.statuses_count,
            "diggCount": digg,
            "friendCount": int(account.following * 0.3),
        }
        return ({k: round_sig(v) for k, v in exact.items()}, {k: str(v) for k, v in exact.items()})

    def item_json(self, post: Post, base: str, *, with_author_stats: bool = True) -> dict:
        world = self.world
        account = world.account(post.account_index)
        numbers = video_numbers(world.seed, post)
        created = int(post.created_at.timestamp())
        exact = {"diggCount": post.favourites, "shareCount": post.reblogs,
                 "commentCount": post.replies, "playCount": numbers["views"],
                 "collectCount": post.quotes + post.reblogs // 3}
        text = post.text.replace("\n\n", " ").replace("\n", " ")
        extras = self.text_extra(text, post)
        cover = self._asset(base, "obj", post.id)
        item: dict = {
            "id": post.id,
            "desc": text,
            "createTime": created,
            "video": {
                "id": f"v0{int(post.id) % 10**16:016d}",
                "height": 1024, "width": 576, "duration": numbers["duration"], "ratio": "720p",
                "cover": cover, "originCover": cover, "dynamicCover": cover,
                "playAddr": f"{base}{CDN_PATH}/video/{post.id}.mp4",
                "downloadAddr": f"{base}{CDN_PATH}/video/{post.id}.mp4",
                "shareCover": ["", cover], "reflowCover": cover,
            },
            "author": self.user_json(account, base, full=False),
            "music": {
                "id": str(numbers["music_id"]), "title": "original sound",
                "playUrl": f"{base}{CDN_PATH}/music/{numbers['music_id']}.mp3",
                "coverLarge": self._asset(base, "avt", account.avatar_key or "default", 1080),
                "coverMedium": self._asset(base, "avt", account.avatar_key or "default", 720),
                "coverThumb": self._asset(base, "avt", account.avatar_key or "default", 100),
                "authorName": account.display_name or account.username, "original": True,
                "duration": numbers["duration"], "album": "", "scheduleSearchTime": 0,
            },
            "challenges": [self.challenge_json(tag, base) for tag in post.tags],
            "stats": {k: round_sig(v) for k, v in exact.items()},
            "statsV2": {k: str(v) for k, v in exact.items()},
            "duetInfo": {"duetFromId": "0"},
            "warnInfo": [],
            "originalItem": False,
            "officalItem": False,
            "textExtra": extras,
            "secret": False,
            "forFriend": False,
            "digged": False,
            "itemCommentStatus": 0,
            "showNotPass": False,
            "vl1": False,
            "takeDown": 0,
            "itemMute": False,
            "effectStickers": [],
            "privateItem": False,
            "duetEnabled": True,
            "stitchEnabled": True,
            "stickersOnItem": [],
            "isAd": world.post_flagged(post.id),  # a paid partnership's flag
            "shareEnabled": True,
            "contents": [{"desc": text, "textExtra": [{"hashtagName": e["hashtagName"]}
                                                      for e in extras if e["type"] == 1]}],
            "collected": False,
        }
        if with_author_stats:
            stats, _ = self.user_stats(account)
            item["authorStats"] = {k: stats[k] for k in ("followerCount", "followingCount",
                                                         "heart", "heartCount", "videoCount",
                                                         "diggCount")}
        return item

    def text_extra(self, text: str, post: Post) -> list[dict]:
        """``textExtra``: one entry per ``#tag`` (type 1) and ``@mention`` (type 0) in the text."""
        out = []
        for match in re.finditer(r"([#@])(\w+)", text):
            is_tag = match.group(1) == "#"
            mentioned = None if is_tag else self.world.account_by_username(match.group(2))
            if not is_tag and mentioned is None:
                continue
            out.append({
                "awemeId": "", "start": match.start(), "end": match.end(),
                "hashtagId": "", "hashtagName": match.group(2) if is_tag else "",
                "type": 1 if is_tag else 0,
                "userId": mentioned.id if mentioned else "", "isCommerce": False,
                "userUniqueId": self.handle_of(mentioned) if mentioned else "",
                "secUid": self.sec_uid(mentioned) if mentioned else "",
            })
        return out

    def challenge_json(self, tag: str, base: str) -> dict:
        cover = self._asset(base, "challenge", self.challenge_id(tag))
        return {"id": self.challenge_id(tag), "title": tag, "desc": "",
                "profileLarger": cover, "profileMedium": cover, "profileThumb": cover,
                "coverLarger": cover, "coverMedium": cover, "coverThumb": cover,
                "isCommerce": False}

    # -- pages ---------------------------------------------------------------------------

    def _page(self, title: str, scope: dict, language: str = "en") -> Response:
        data = {"__DEFAULT_SCOPE__": {
            "webapp.app-context": {"language": language, "region": "US", "appId": 1988,
                                   "appType": "m", "user": {}, "botType": "others",
                                   "host": "www.tiktok.com"},
            **scope,
        }}
        html = (
            f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
            f"<title>{escape_html(title)}</title></head><body><div id=\"app\"></div>"
            f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">'
            f"{script_json(data)}</script></body></html>\n"
        )
        return Response(200, html.encode(), _HTML)

    @staticmethod
    def _lang(request: Request) -> str:
        lang = request.query.get("lang", "en")
        return lang if re.fullmatch(r"[a-z]{2,3}(?:-[A-Za-z]{2,4})?", lang) else "en"

    def profile_page(self, request: Request, handle: str) -> Response:
        account = self.world.account_by_username(handle.lstrip("@"))
        if account is None:
            return self._page("TikTok", {"webapp.user-detail": {
                "statusCode": 10221, "statusMsg": "", "needFix": False}}, self._lang(request))
        stats, stats_v2 = self.user_stats(account)
        name = account.display_name or account.username
        detail = {
            "userInfo": {"user": self.user_json(account, request.base_url),
                         "stats": stats, "statsV2": stats_v2, "itemList": []},
            "shareMeta": {"title": f"{name} on TikTok",
                          "desc": f"@{self.handle_of(account)} {stats['followerCount']} "
                                  f"Followers, {stats['followingCount']} Following"},
            "statusCode": 0, "statusMsg": "", "needFix": False,
        }
        return self._page(f"{name} (@{self.handle_of(account)}) | TikTok",
                          {"webapp.user-detail": detail}, self._lang(request))

    def video_page(self, request: Request, handle: str, post_id: str) -> Response:
        post = self.world.post_by_id(post_id)
        account = self.world.account_by_username(handle.lstrip("@"))
        if post is None or account is None or post.account_index != account.index:
            return self._page("TikTok", {"webapp.video-detail": {
                "statusCode": 10204, "statusMsg": "", "needFix": False}}, self._lang(request))
        item = self.item_json(post, request.base_url)
        _, stats_v2 = self.user_stats(account)
        item["authorStatsV2"] = {k: stats_v2[k] for k in item["authorStats"]}
        return self._page(f"{item['desc'][:60]} | TikTok",
                          {"webapp.video-detail": {"itemInfo": {"itemStruct": item},
                                                   "statusCode": 0, "statusMsg": ""}},
                          self._lang(request))

    def tag_page(self, request: Request, tag: str) -> Response:
        name = tag.lstrip("#")
        count = len(self.world.tag_post_ids(name))
        views = sum(video_numbers(self.world.seed, self.world.post(pid))["views"]
                    for pid in self.world.tag_post_ids(name)[-50:])
        info = {
            "challenge": self.challenge_json(name.lower(), request.base_url),
            "stats": {"videoCount": count, "viewCount": round_sig(views)},
            "statsV2": {"videoCount": str(count), "viewCount": str(views)},
        }
        detail = {"challengeInfo": info, "statusCode": 0, "statusMsg": ""}
        return self._page(f"#{name} | TikTok", {"webapp.challenge-detail": detail},
                          self._lang(request))

    # -- API -----------------------------------------------------------------------------

    @staticmethod
    def _count(request: Request) -> int:
        text = request.query.get("count", "")
        return max(1, min(int(text), MAX_COUNT)) if text.isdigit() else PAGE_SIZE

    def _list(self, items: list[dict], cursor: str, has_more: bool) -> Response:
        return Response(200, dump_json({
            "cursor": cursor, "extra": {"fatal_item_ids": [], "logid": "sandbox", "now": 0},
            "hasMore": has_more, "itemList": items, "log_pb": {"impr_id": "sandbox"},
            "statusCode": 0, "status_code": 0, "status_msg": "",
        }))

    def challenge_item_list(self, request: Request) -> Response:
        tag = self.tag_of_challenge(request.query.get("challengeID", ""))
        cursor_text = request.query.get("cursor", "0")
        offset = int(cursor_text) if cursor_text.isdigit() else 0
        ids = list(reversed(self.world.tag_post_ids(tag))) if tag else []
        page = ids[offset:offset + self._count(request)]
        items = [self.item_json(self.world.post(pid), request.base_url) for pid in page]
        return self._list(items, str(offset + len(page)), offset + len(page) < len(ids))

    def post_item_list(self, request: Request) -> Response:
        account = self.account_by_sec_uid(request.query.get("secUid", ""))
        if account is None:
            return self._list([], "0", False)
        cursor_text = request.query.get("cursor", "0")
        before = int(cursor_text) if cursor_text.isdigit() and int(cursor_text) > 0 else None
        posts = self.world.posts(account)  # newest first
        if before is not None:
            posts = [p for p in posts if _ms(p.created_at) < before]
        page = posts[: self._count(request)]
        items = [self.item_json(p, request.base_url) for p in page]
        cursor = str(_ms(page[-1].created_at)) if page else "0"
        return self._list(items, cursor, len(posts) > len(page))

    # -- other routes ----------------------------------------------------------------------

    def robots(self, request: Request) -> Response:
        return Response(200, ROBOTS_TXT.encode(), "text/plain; charset=utf-8")

    def media_file(self, request: Request) -> Response:
        return Response(200, PNG_1X1, "image/png", [("cache-control", "public, max-age=31536000")])


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)

