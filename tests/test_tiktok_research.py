"""The TikTok Research API route: parser, sandbox, spider, end-to-end crawls, cassette.

* The parser on the real recordings (../shared/realworld/tiktok/tiktoklibrary_research_api_*:
  two video queries, a comment list) and, for user info (no recording exists), the example of
  TikTok's API reference.
* The sandbox's Research API (``crawler.sandbox.tiktok_research``, mounted by the TikTok app)
  in-process: tokens, paging by cursor and search_id, 30-day windows, user info, errors, knobs.
* The spider on its own: arguments, the request plan, callbacks fed sandbox answers, the
  errback (rate limits, expired tokens, the daily quota).
* End to end through the engine (``tests.crawl_helpers.run_spider``) against
  ``SandboxProcess(platform="tiktok")``: a sweep through every pipeline into SQLite, budgets
  that stop a run and carry to the next one the same day, token renewal, the daily-quota and
  rate-limit answers, secrets kept out of the log, the warehouse and cassettes.
* ``cassettes/sandbox_tiktok_research_sweep.yaml`` replayed through the whole pipeline
  (re-record: ``python -m tests.test_tiktok_research``). The token call's form (client key and
  secret) and answer (the token) are scrubbed from it after recording: ``crawler/cassette.py``
  filters JSON bodies only (see ``test_a_fresh_recording_holds_no_client_secret_or_token``).
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import FormRequest, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.cassette import cassette_settings
from crawler.credentials import CredentialsMiddleware
from crawler.errors import BlockedPage, RetryableBody, UnrecognisedDocument
from crawler.items import HashtagSightingItem, PostItem, ProfileItem
from crawler.parsers import tiktok as tt
from crawler.parsers import tiktok_research as research
from crawler.quota import account_of
from crawler.sandbox.common import Request as SandboxRequest
from crawler.sandbox.tiktok import TikTokApp, video_numbers
from crawler.sandbox.tiktok_research import CLIENT_KEY, CLIENT_SECRET, ResearchApi
from crawler.sandbox.world import World, snowflake_time
from crawler.spiders.tiktok_research import TikTokResearchSpider
from tests.conftest import realworld
from tests.crawl_helpers import run_spider
from tests.spider_helpers import run_callback

ACCOUNTS, SEED = 200, 7
BASE = "http://127.0.0.1:8799"  # also the cassette's recording port
HOST = "127.0.0.1:8799"
CASSETTE = Path(__file__).resolve().parents[1] / "cassettes" / "sandbox_tiktok_research_sweep.yaml"
TAG = "gaming"
SINCE, UNTIL = "2026-08-02", "2026-09-30"  # two windows: 09-01..09-30 and 08-02..08-31
LO, HI = 1_000, 100_000
KEYS = {"MICROSCOUT_TIKTOK_CLIENT_KEY": CLIENT_KEY, "MICROSCOUT_TIKTOK_CLIENT_SECRET": CLIENT_SECRET}
CATS = "tiktoklibrary_research_api_v2_video_query_cats_2024.json"
NUL = "tiktoklibrary_research_api_v2_video_query_null_bytes_iq_2024.json"
COMMENTS = "tiktoklibrary_research_api_v2_video_comment_list_2024.json"


@cache
def world() -> World:
    return World(ACCOUNTS, SEED)


@cache
def app() -> TikTokApp:
    return TikTokApp(world())


def load(name: str) -> dict:
    return json.loads(realworld("tiktok", name).read_text(encoding="utf-8"))


def expected_ids(tag: str, start: str, end: str) -> list[str]:
    """Video ids the API should return for ``tag`` from ``start`` to ``end``, newest first."""
    low = datetime.fromisoformat(start).replace(tzinfo=timezone.utc)
    high = datetime.fromisoformat(end).replace(tzinfo=timezone.utc) + timedelta(days=1)
    return [str(pid) for pid in sorted(world().tag_post_ids(tag), reverse=True)
            if low <= snowflake_time(pid) < high]


def sweep_ids() -> list[str]:
    return expected_ids(TAG, "2026-09-01", UNTIL) + expected_ids(TAG, SINCE, "2026-08-31")


def authors_of(ids: list[str]) -> list[int]:
    return list(dict.fromkeys(world().post_by_id(pid).account_index for pid in ids))


# --- the parser on the real recordings ---------------------------------------------------------


def test_cats_query_page_and_videos_exactly():
    data = load(CATS)
    assert research.pagination(data) == research.Page(100, True, "7354367454467855403")
    videos = research.videos(data)
    assert len(videos) == 27
    first, third, sixth = videos[0], videos[2], videos[5]
    assert (first.id, first.username, first.create_time, first.region_code) == (
        "7320768196569599275", "s.clovis", 1704499196, "US")
    assert (first.like_count, first.comment_count, first.share_count, first.view_count) == (6, 0, 0, 4)
    assert first.hashtag_names == ["cats", "duet"]
    assert first.music_id == "7159460238003800066"
    assert first.description == "#duet with @MarvelKitties2022 #cats "
    assert (third.id, third.username, third.like_count, third.comment_count, third.view_count) == (
        "7320768169063435566", "meowmeowmamma", 38, 1, 16)
    assert third.hashtag_names == ["cats", "cat", "cutecat", "catlover", "catsoftiktok"]
    assert (sixth.id, sixth.username, sixth.create_time) == (
        "7320768151782853934", "its__isabela__", 1704499182)
    laceybonarhull = videos[22]
    assert (laceybonarhull.like_count, laceybonarhull.comment_count, laceybonarhull.share_count,
            laceybonarhull.view_count) == (390, 33, 3, 389)
    assert videos[-1].id == "7320768004067691818"
    assert videos[-1].username == "kaleth_9"
    assert {v.region_code for v in videos} == {"US"}


def test_a_video_without_like_count_keeps_likes_missing_not_zero():
    videos = research.videos(load(CATS))
    lacking = [v for v in videos if v.like_count is None]
    assert [(v.id, v.username) for v in lacking] == [("7320768149928955182", "illyonz")]
    post = research.post_item(lacking[0])
    assert (post.likes, post.comments, post.shares, post.views) == (None, 0, 0, 0)
    assert post.hashtags == ["catfishing"]


def test_cats_items_with_and_without_the_queried_tag():
    data = load(CATS)
    alone = research.parse_document(data)
    assert [type(i) for i in alone] == [PostItem] * 27  # the answer does not name the query's tag
    post = alone[0]
    assert (post.platform, post.post_id, post.author_handle, post.posted_at, post.posted_at_precision) == (
        "tiktok", "7320768196569599275", "s.clovis", 1704499196, "exact")
    assert post.url == "https://www.tiktok.com/@s.clovis/video/7320768196569599275"
    assert post.mentions == ["marvelkitties2022"]
    items = research.parse_document(data, hashtag="#Cats", position_offset=100,
                                    url="https://open.tiktokapis.com/v2/research/video/query/")
    sightings = [i for i in items if isinstance(i, HashtagSightingItem)]
    assert [(s.hashtag, s.position, s.listing) for s in sightings[:2]] == [
        ("cats", 100, "recent"), ("cats", 101, "recent")]
    assert [s.post_id for s in sightings] == [p.post_id for p in alone]
    assert sightings[6].author_handle == "illyonz"
    # the web parser hands Research API bodies to this module
    assert tt.parse_document(json.dumps(data)) == alone
    assert tt.parse_document(data) == alone


def test_null_bytes_username_is_cleaned():
    data = load(NUL)
    assert research.pagination(data) == research.Page(1, False, "7438632773830841386")
    (video,) = research.videos(data)
    assert video.raw_username is not None
    assert video.raw_username.count("\x00") == 6
    assert video.username == "حموديالباشا4"
    assert (video.id, video.region_code, video.view_count, video.like_count,
            video.comment_count, video.share_count) == ("7435406205763226897", "IQ", 401, 49, 11, 0)
    (sighting, post) = research.parse_document(data, hashtag="ابوجبل")
    assert sighting.author_handle == post.author_handle == "حموديالباشا4"
    assert (post.likes, post.views, post.comments) == (49, 401, 11)
    assert "\x00" not in post.url


def test_comment_list_is_recognised_and_holds_nothing_for_the_warehouse():
    data = load(COMMENTS)
    assert research.is_research_body(data)
    assert research.parse_document(data) == []
    assert tt.parse_document(data) == []
    assert research.pagination(data) == research.Page(6, False, None)
    comments = data["data"]["comments"]
    assert len(comments) == 6
    assert {c["video_id"] for c in comments} == {7385291383449439519}


@pytest.mark.parametrize(("raw", "clean"), [
    ("s.clovis", "s.clovis"), ("@Alice", "alice"), ("a\x00\x00b", "ab"), ("\x85bob\x9f", "bob"),
    ("\x00\x00\x00", None), ("  \x7f ", None), (None, None), (42, None),
])
def test_clean_username(raw, clean):
    assert research.clean_username(raw) == clean


def test_a_video_whose_username_is_only_controls_has_no_author():
    data = {"data": {"videos": [{"id": 1, "username": "\u0000\u0000", "like_count": 3}],
                     "cursor": 1, "has_more": False, "search_id": "9"},
            "error": {"code": "ok", "message": "", "log_id": "x"}}
    sighting, post = research.parse_document(data, hashtag="x")
    assert sighting.author_handle is None
    assert post.author_handle is None
    assert post.url is None


#: The example answer of https://developers.tiktok.com/doc/research-api-specs-query-user-info
#: (no recording of user/info exists).
USER_INFO_EXAMPLE = {
    "data": {"bio_description": "my_bio", "is_verified": False, "likes_count": 27155089,
             "video_count": 44, "avatar_url": "https://some_cdn.com/some_image.jpeg",
             "follower_count": 232, "following_count": 45, "display_name": "my_display_name"},
    "error": {"code": "ok", "message": "", "log_id": "20230315163537A0BD9CE6A8F6BC3A1C6B"},
}


def test_user_info_as_the_reference_shows_it():
    (profile,) = research.parse_document(USER_INFO_EXAMPLE, username="Joe123456")
    assert isinstance(profile, ProfileItem)
    assert (profile.handle, profile.display_name, profile.bio, profile.is_verified) == (
        "joe123456", "my_display_name", "my_bio", False)
    assert (profile.followers, profile.following, profile.posts_count) == (232, 45, 44)
    assert profile.profile_url == "https://www.tiktok.com/@joe123456"
    assert research.user_info(USER_INFO_EXAMPLE).likes_count == 27155089


@pytest.mark.parametrize(("code", "message", "error", "reason"), [
    ("rate_limit_exceeded", "The API rate limit was exceeded.", BlockedPage, "rate_limited"),
    ("daily_quota_limit_exceeded", "quota", BlockedPage, "quota_exhausted"),
    ("access_token_invalid", "The access token is invalid", BlockedPage, "auth_required"),
    ("scope_not_authorized", "not authorized", BlockedPage, "auth_failed"),
    ("invalid_params", "API cannot find the user: x", UnrecognisedDocument, "not_found"),
    ("invalid_params", "The user x is private", UnrecognisedDocument, "unavailable"),
    ("invalid_params", "Invalid start_date", UnrecognisedDocument, "invalid_params"),
    ("internal_error", "Something went wrong", RetryableBody, "api_error"),
])
def test_error_envelopes_raise_typed_errors(code, message, error, reason):
    body = {"data": {}, "error": {"code": code, "message": message, "log_id": "L1"}}
    with pytest.raises(error) as caught:
        research.parse_document(body)
    assert caught.value.reason == reason
    assert message in str(caught.value)
    assert "L1" in str(caught.value)


def test_token_answers():
    token = research.token_answer({"access_token": "clt.example12345Example12345Example",
                                   "expires_in": 7200, "token_type": "Bearer"})
    assert (token.access_token, token.expires_in) == ("clt.example12345Example12345Example", 7200)
    assert "clt." not in repr(token)
    assert research.parse_document({"access_token": "clt.x", "expires_in": 7200}) == []
    with pytest.raises(BlockedPage, match="Client secret is missed in request") as caught:
        research.token_answer({"error": "invalid_request", "log_id": "2022",
                               "error_description": "Client secret is missed in request."})
    assert caught.value.reason == "auth_failed"
    with pytest.raises(UnrecognisedDocument, match="expires_in"):
        research.token_answer({"access_token": "clt.x", "expires_in": 0})


def test_video_query_body_as_the_reference_shows_it():
    body = research.video_query_body(start=date(2024, 1, 5), end=date(2024, 2, 4), hashtags=("cats",),
                                     regions=("US", "CA"), cursor=100, search_id="7354367454467855403")
    assert body == {"query": {"and": [
        {"operation": "IN", "field_name": "hashtag_name", "field_values": ["cats"]},
        {"operation": "IN", "field_name": "region_code", "field_values": ["US", "CA"]}]},
        "start_date": "20240105", "end_date": "20240204", "max_count": 100, "cursor": 100,
        "search_id": "7354367454467855403"}
    with pytest.raises(ValueError, match="0 to 30 days"):
        research.video_query_body(start=date(2024, 1, 5), end=date(2024, 2, 5), hashtags=("cats",))
    assert research.video_query_url() == (
        "https://open.tiktokapis.com/v2/research/video/query/?fields=id,video_description,"
        "create_time,region_code,share_count,view_count,like_count,comment_count,music_id,"
        "hashtag_names,username")


def test_web_bodies_still_go_to_the_web_parser():
    body = {"statusCode": 0, "itemList": [{"id": "1", "desc": "hi #x", "createTime": 5,
                                           "author": {"uniqueId": "a"}}]}
    assert not research.is_research_body(body)
    (post,) = tt.parse_document(body)
    assert (post.post_id, post.author_handle) == ("1", "a")


# --- the sandbox's Research API ----------------------------------------------------------------


def call(path: str, body: dict | None = None, *, token: str | None = None, fields: str = "",
         form: dict | None = None, sandbox: TikTokApp | None = None, method: str = "POST"):
    query = {"fields": fields} if fields else {}
    target = path + (f"?{urlencode(query, safe=',')}" if query else "")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    data = urlencode(form).encode() if form is not None else json.dumps(body).encode()
    answer = (sandbox or app()).handle(SandboxRequest(method, path, query, BASE, target, headers, data))
    return answer.status, json.loads(answer.body)


def token_of(sandbox: TikTokApp | None = None) -> str:
    status, body = call("/v2/oauth/token/", form=research.token_form(CLIENT_KEY, CLIENT_SECRET),
                        sandbox=sandbox)
    assert status == 200, body
    return body["access_token"]


VIDEO_FIELDS = ",".join(research.VIDEO_FIELDS)
USER_FIELDS = ",".join(research.USER_FIELDS)


def query(start: str, end: str, *, sandbox: TikTokApp | None = None, token: str | None = None, **kw):
    body = research.video_query_body(start=date.fromisoformat(start), end=date.fromisoformat(end), **kw)
    return call("/v2/research/video/query/", body, token=token or token_of(sandbox),
                fields=VIDEO_FIELDS, sandbox=sandbox)


def test_sandbox_token_endpoint():
    status, body = call("/v2/oauth/token/", form=research.token_form(CLIENT_KEY, CLIENT_SECRET))
    assert status == 200
    assert (body["expires_in"], body["token_type"]) == (7200, "Bearer")
    assert body["access_token"].startswith("clt.")
    assert token_of() == body["access_token"]  # without token_ttl the token is deterministic
    status, body = call("/v2/oauth/token/", form=research.token_form(CLIENT_KEY, "wrong"))
    assert (status, body["error"], body["error_description"]) == (
        401, "invalid_client", "Client key or secret is incorrect.")
    status, body = call("/v2/oauth/token/", form={"client_key": CLIENT_KEY,
                                                  "grant_type": "client_credentials"})
    assert (status, body["error"], body["error_description"]) == (
        400, "invalid_request", "Client secret is missed in request.")
    with pytest.raises(BlockedPage, match="invalid_request"):
        research.token_answer(body)
    status, body = call("/v2/research/video/query/", {}, method="GET")
    assert status == 405


def test_sandbox_video_query_pages_by_cursor_and_search_id_newest_first():
    token = token_of()
    expected = expected_ids(TAG, "2026-09-01", "2026-09-30")
    assert len(expected) > 40
    seen: list[str] = []
    cursor, search_id = None, None
    pages = 0
    while True:
        status, body = query("2026-09-01", "2026-09-30", token=token, hashtags=(TAG,), max_count=30,
                             cursor=cursor, search_id=search_id)
        assert status == 200, body
        pages += 1
        page = research.pagination(body)
        seen += [v.id for v in research.videos(body)]
        assert page.search_id == (search_id or page.search_id)
        if not page.has_more:
            break
        cursor, search_id = page.cursor, page.search_id
    assert seen == expected
    assert pages == -(-len(expected) // 30)
    status, body = query("2026-09-01", "2026-09-30", token=token, hashtags=(TAG,), cursor=30,
                         search_id="123")
    assert (status, body["error"]["code"], body["error"]["message"]) == (
        400, "invalid_params", "Search Id 123 is invalid or expired")


def test_sandbox_videos_carry_the_worlds_numbers():
    _, body = query("2026-09-01", "2026-09-30", hashtags=(TAG,), max_count=5)
    w = world()
    for raw, video in zip(body["data"]["videos"], research.videos(body), strict=True):
        post = w.post_by_id(video.id)
        account = w.account(post.account_index)
        assert isinstance(raw["id"], int)
        assert (video.username, video.like_count, video.comment_count, video.share_count) == (
            account.username.lower(), post.favourites, post.replies, post.reblogs)
        assert video.view_count == video_numbers(SEED, post)["views"]
        assert video.create_time == int(post.created_at.timestamp())
        assert video.hashtag_names == list(post.tags)
        assert TAG in video.hashtag_names
        assert video.region_code == app().research.region(account)
    _, body = call("/v2/research/video/query/", research.video_query_body(
        start=date(2026, 9, 1), end=date(2026, 9, 30), hashtags=(TAG,)), token=token_of(),
        fields="id,username")
    assert all(set(v) == {"id", "username"} for v in body["data"]["videos"])  # only what was asked


def test_sandbox_filters_by_region_and_username():
    w = world()
    ids = expected_ids(TAG, "2026-09-01", UNTIL)
    account = w.account(w.post_by_id(ids[0]).account_index)
    region = app().research.region(account)
    _, body = query("2026-09-01", UNTIL, hashtags=(TAG,), regions=(region,))
    videos = research.videos(body)
    assert [v.id for v in videos] == [
        p for p in ids if app().research.region(w.account(w.post_by_id(p).account_index)) == region]
    assert {v.region_code for v in videos} == {region}
    assert len(videos) < len(ids)
    _, body = query("2026-09-01", UNTIL, usernames=(account.username.lower(),))
    start, end = datetime(2026, 9, 1, tzinfo=timezone.utc), datetime(2026, 10, 1, tzinfo=timezone.utc)
    assert [v.id for v in research.videos(body)] == [
        p.id for p in w.posts(account) if start <= p.created_at < end]


def test_sandbox_refuses_windows_over_30_days_and_bad_queries():
    token = token_of()
    body = research.video_query_body(start=date(2026, 9, 1), end=date(2026, 9, 30), hashtags=(TAG,))
    status, answer = call("/v2/research/video/query/", {**body, "start_date": "20260831",
                                                        "end_date": "20261001"},
                          token=token, fields=VIDEO_FIELDS)
    assert (status, answer["error"]["code"], answer["error"]["message"]) == (
        400, "invalid_params", "The end_date must be no more than 30 days after the start_date")
    with pytest.raises(UnrecognisedDocument) as caught:
        research.parse_document(answer)
    assert caught.value.reason == "invalid_params"
    status, answer = call("/v2/research/video/query/", {**body, "start_date": "20260901",
                                                        "end_date": "20261001"},
                          token=token, fields=VIDEO_FIELDS)
    assert status == 200  # exactly 30 days after: allowed
    for bad in ({**body, "max_count": 101}, {**body, "start_date": "2026-09-01"},
                {**body, "query": {"and": []}}, {**body, "query": {"and": [
                    {"operation": "GT", "field_name": "hashtag_name", "field_values": ["x"]}]}}):
        status, answer = call("/v2/research/video/query/", bad, token=token, fields=VIDEO_FIELDS)
        assert (status, answer["error"]["code"]) == (400, "invalid_params"), bad
    status, answer = call("/v2/research/video/query/", body, token=token, fields="id,colour")
    assert (status, answer["error"]["message"]) == (400, "Invalid fields: colour")


def test_sandbox_wants_a_valid_token():
    body = research.video_query_body(start=date(2026, 9, 1), end=date(2026, 9, 30), hashtags=(TAG,))
    for token in (None, "clt.0.forged", "act.x"):
        status, answer = call("/v2/research/video/query/", body, token=token, fields=VIDEO_FIELDS)
        assert (status, answer["error"]["code"]) == (401, "access_token_invalid")
        with pytest.raises(BlockedPage) as caught:
            research.parse_document(answer)
        assert caught.value.reason == "auth_required"


def test_sandbox_user_info():
    w = world()
    account = next(a for a in w if not a.locked and a.followers > 1000)
    status, body = call("/v2/research/user/info/", {"username": account.username.upper()},
                        token=token_of(), fields=USER_FIELDS)
    assert status == 200
    (profile,) = research.parse_document(body, username=account.username)
    _, exact = app().user_stats(account)
    assert (profile.handle, profile.followers, profile.following, profile.posts_count) == (
        account.username.lower(), account.followers, account.following, account.statuses_count)
    assert (profile.bio, profile.is_verified) == (account.note, account.followers >= 1_000_000)
    assert research.user_info(body).likes_count == int(exact["heartCount"])
    assert set(body["data"]) == set(research.USER_FIELDS)
    status, body = call("/v2/research/user/info/", {"username": "nobody_here"}, token=token_of(),
                        fields=USER_FIELDS)
    assert (status, body["error"]["code"], body["error"]["message"]) == (
        400, "invalid_params", "API cannot find the user: nobody_here")
    with pytest.raises(UnrecognisedDocument) as caught:
        research.parse_document(body)
    assert caught.value.reason == "not_found"
    private = next(a for a in w if a.locked)
    status, body = call("/v2/research/user/info/", {"username": private.username},
                        token=token_of(), fields=USER_FIELDS)
    assert (status, body["error"]["code"]) == (400, "invalid_params")
    assert research.error_reason(research.api_error(body)) == "unavailable"


def test_sandbox_knobs_quirks_quotas_and_expiry():
    now = [1_000_000.0]
    sandbox = TikTokApp(world())
    sandbox.research.clock = lambda: now[0]
    assert sandbox.knob_state() == {"knobs": {"scope": "all"}, "served": {}}  # as before
    sandbox.configure({"missing_likes": "0.5", "nul_usernames": "0.5", "token_ttl": "60",
                       "daily_requests": "3"})
    status, token_body = call("/v2/oauth/token/", form=research.token_form(CLIENT_KEY, CLIENT_SECRET),
                              sandbox=sandbox)
    assert token_body["expires_in"] == 60
    token = token_body["access_token"]
    status, body = query("2026-09-01", UNTIL, hashtags=(TAG,), token=token, sandbox=sandbox, max_count=40)
    raws = body["data"]["videos"]
    lacking = [v for v in raws if "like_count" not in v]
    nul = [v for v in raws if "\x00" in v["username"]]
    assert 5 < len(lacking) < 35
    assert 5 < len(nul) < 35
    assert all(v.like_count is None for v in research.videos(body) if int(v.id) in {r["id"] for r in lacking})
    assert all("\x00" not in (v.username or "") for v in research.videos(body))
    now[0] += 61  # the token is over
    status, body = query("2026-09-01", UNTIL, hashtags=(TAG,), token=token, sandbox=sandbox)
    assert (status, body["error"]["message"]) == (401, "The access token has expired.")
    token = call("/v2/oauth/token/", form=research.token_form(CLIENT_KEY, CLIENT_SECRET),
                 sandbox=sandbox)[1]["access_token"]
    assert query("2026-09-01", UNTIL, hashtags=(TAG,), token=token, sandbox=sandbox)[0] == 200
    assert query("2026-09-01", UNTIL, hashtags=(TAG,), token=token, sandbox=sandbox)[0] == 200
    status, body = query("2026-09-01", UNTIL, hashtags=(TAG,), token=token, sandbox=sandbox)
    assert (status, body["error"]["code"]) == (429, "daily_quota_limit_exceeded")  # the 4th call
    with pytest.raises(BlockedPage) as caught:
        research.parse_document(body)
    assert caught.value.reason == "quota_exhausted"
    state = sandbox.knob_state()["research"]
    assert state["knobs"] == {"missing_likes": 0.5, "nul_usernames": 0.5, "token_ttl": 60,
                              "daily_requests": 3}
    assert state["counts"]["requests"] == 3
    assert state["counts"]["daily_refused"] == 1
    sandbox.configure({"daily_requests": "", "daily_records": "10"})  # counts start afresh
    assert query("2026-09-01", UNTIL, hashtags=(TAG,), token=token, sandbox=sandbox, max_count=10)[0] == 200
    assert query("2026-09-01", UNTIL, hashtags=(TAG,), token=token, sandbox=sandbox)[0] == 429


def test_sandbox_knob_errors_are_one_line_and_change_nothing():
    sandbox = TikTokApp(world())
    for knobs, message in (({"token_ttl": "0"}, "knob token_ttl must be a whole number of at least 1"),
                           ({"daily_requests": "lots"}, "knob daily_requests"),
                           ({"missing_likes": "2"}, "between 0 and 1"),
                           ({"captcha": "0.5", "nul_usernames": "x"}, "bad rate 'x'"),
                           ({"quota": "5"}, "^unknown knob 'quota' for the tiktok sandbox: use "
                                            "captcha, scope, token_ttl")):
        with pytest.raises(ValueError, match=message) as caught:
            sandbox.configure(knobs)
        assert "\n" not in str(caught.value)
    assert sandbox.knob_state() == {"knobs": {"scope": "all"}, "served": {}}
    assert set(ResearchApi.KNOBS) <= set(TikTokApp.KNOBS)


def test_sandbox_fault_answers_are_research_errors():
    request = SandboxRequest("POST", "/v2/research/video/query/", {}, BASE, "/v2/research/video/query/")
    answer = app().fault_response("429", request)
    body = json.loads(answer.body)
    assert (answer.status, body["error"]["code"]) == (429, "rate_limit_exceeded")
    with pytest.raises(BlockedPage) as caught:
        research.parse_document(body)
    assert caught.value.reason == "rate_limited"
    answer = app().fault_response("503", request)
    assert (answer.status, json.loads(answer.body)["error"]["code"]) == (503, "internal_error")
    web = SandboxRequest("GET", "/@x", {}, BASE, "/@x")
    assert app().fault_response("429", web).body == b""  # the web app's own 429 is unchanged


# --- the spider on its own ------------------------------------------------------------------


def make_spider(settings: dict | None = None, **kwargs) -> TikTokResearchSpider:
    crawler = get_crawler(TikTokResearchSpider, settings_dict={**KEYS, "RETRY_TIMES": 2,
                                                               **(settings or {})})
    spider = TikTokResearchSpider.from_crawler(crawler, **{"base_url": BASE, "since": SINCE,
                                                           "until": UNTIL, **kwargs})
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def answer(spider: TikTokResearchSpider, request: Request, sandbox: TikTokApp | None = None) -> TextResponse:
    """What the sandbox answers to ``request`` as it leaves (credentials applied), in-process."""
    CredentialsMiddleware.from_crawler(spider.crawler).process_request(request)
    parts = urlsplit(request.url)
    query_ = {k: v[0] for k, v in parse_qs(parts.query).items()}
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {k.decode().lower(): b",".join(v).decode() for k, v in request.headers.items()}
    got = (sandbox or app()).handle(SandboxRequest(request.method, parts.path, query_, BASE, target,
                                                   headers, request.body))
    return TextResponse(url=request.url, status=got.status, body=got.body, request=request,
                        headers={"Content-Type": got.content_type}, encoding="utf-8")


def first_requests(spider: TikTokResearchSpider) -> list[Request]:
    async def collect():
        return [r async for r in spider.start()]
    return asyncio.run(collect())


def with_token(spider: TikTokResearchSpider) -> list:
    """The token call answered by the sandbox: the work the spider then sends."""
    (token_request,) = first_requests(spider)
    return run_callback(token_request, answer(spider, token_request))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"days": "0"}, "days must be a whole number from 1 to 3650"),
    ({"days": "30", "since": "2026-09-01"}, "give days or since, not both"),
    ({"since": "2026-09-30", "until": "2026-09-01"}, "since (2026-09-30) is after until"),
    ({"until": "2999-01-01"}, "until (2999-01-01) is after today"),
    ({"since": "yesterday"}, "since must be a date like 2026-09-30"),
    ({"regions": "USA"}, "'USA' is not a two-letter region code"),
    ({"source": "web"}, "source must be one of research"),
    ({"refresh_margin": "-1"}, "refresh_margin must be at least 0"),
    ({"listing": "top"}, "listing must be one of recent"),
    ({"recent_posts": "101"}, "recent_posts must be at most 100"),
    ({"handles": "bad handle!"}, "is not a TikTok username"),
])
def test_bad_argument_is_a_one_line_error(kwargs, message):
    with pytest.raises(ValueError, match=r"^[^\n]+$") as caught:
        TikTokResearchSpider(**{"tags": "ok", **kwargs})
    assert message in str(caught.value)


def test_windows_of_at_most_30_days_newest_first():
    spider = TikTokResearchSpider(tags="x", since="2026-06-01", until="2026-09-30")
    assert spider.windows == [(date(2026, 9, 1), date(2026, 9, 30)), (date(2026, 8, 2), date(2026, 8, 31)),
                              (date(2026, 7, 3), date(2026, 8, 1)), (date(2026, 6, 3), date(2026, 7, 2)),
                              (date(2026, 6, 1), date(2026, 6, 2))]
    assert all((end - start).days <= 29 for start, end in spider.windows)
    spider = TikTokResearchSpider(tags="x", days="45", until="20260930")
    assert spider.windows == [(date(2026, 9, 1), date(2026, 9, 30)), (date(2026, 8, 17), date(2026, 8, 31))]
    default = TikTokResearchSpider(tags="x")
    (start, end), = default.windows
    assert (end - start).days == 29
    assert end == datetime.now(timezone.utc).date()
    run_args = json.loads(json.dumps(TikTokResearchSpider(tags="x", days="45", until="2026-09-30",
                                                          regions="us,ca").run_args))
    assert run_args.items() >= {"platform": "tiktok", "source": "research", "since": "2026-08-17",
                                "until": "2026-09-30", "windows": 2, "regions": ["US", "CA"],
                                "api_base": "https://open.tiktokapis.com"}.items()


def test_keys_are_required_when_crawling():
    with pytest.raises(ValueError, match="source=research needs MICROSCOUT_TIKTOK_CLIENT_KEY"):
        TikTokResearchSpider.from_crawler(get_crawler(TikTokResearchSpider), tags="x")


def test_the_api_host_follows_the_base_url_and_only_it_gets_the_token():
    live = make_spider(tags=TAG, base_url="https://www.tiktok.com")
    assert (live.api_base, live.web_base) == ("https://open.tiktokapis.com", "https://www.tiktok.com")
    assert live.credential_hosts() == ["open.tiktokapis.com"]
    assert "open.tiktokapis.com" in live.run_args["credential_hosts"]
    sandbox = make_spider(tags=TAG)
    assert (sandbox.api_base, sandbox.credential_hosts()) == (BASE, [HOST])
    assert sandbox.account == account_of(HOST, CLIENT_KEY)
    assert CLIENT_KEY not in sandbox.account
    assert sandbox.credentials() == []  # no token yet
    sandbox._token = "clt.secret-token"
    middleware = CredentialsMiddleware.from_crawler(sandbox.crawler)
    for url, sent in ((f"{BASE}/v2/research/video/query/", True),
                      ("http://127.0.0.1:9/v2/research/video/query/", False),
                      ("https://open.tiktokapis.com/v2/research/video/query/", False)):
        request = Request(url, method="POST")
        middleware.process_request(request)
        assert (request.headers.get("Authorization") == b"Bearer clt.secret-token") is sent, url
    assert "secret" not in repr(sandbox.credentials())


def test_the_request_plan_token_first_then_the_work():
    spider = make_spider(tags="Gaming", handles="@someone,alice")
    (token_request,) = first_requests(spider)
    assert isinstance(token_request, FormRequest)
    assert token_request.url == f"{BASE}/v2/oauth/token/"
    assert parse_qs(token_request.body.decode()) == {
        "client_key": [CLIENT_KEY], "client_secret": [CLIENT_SECRET], "grant_type": ["client_credentials"]}
    assert token_request.meta["microscout_local"] is True  # never in a job's Redis queue
    assert token_request.meta["microscout_redact"] is True  # its answer is never a payload
    assert token_request.meta.get("microscout_quota") is None  # the token call costs nothing
    assert CLIENT_SECRET not in token_request.url
    assert spider.worker_start()[0].url == token_request.url
    out = run_callback(token_request, answer(spider, token_request))
    assert [r.meta["microscout_kind"] for r in out] == ["videos", "user", "user"]
    videos, *users = out
    assert json.loads(videos.body) == {"query": {"and": [
        {"operation": "IN", "field_name": "hashtag_name", "field_values": ["gaming"]}]},
        "start_date": "20260901", "end_date": "20260930", "max_count": 100}
    assert videos.method == "POST"
    assert videos.headers["Content-Type"] == b"application/json"
    assert videos.meta["dont_obey_robotstxt"] is True
    assert videos.meta["microscout_quota"] == {"api": "tiktok_research", "account": spider.account,
                                                "requests": 1, "records": 100}
    assert [json.loads(u.body) for u in users] == [{"username": "someone"}, {"username": "alice"}]
    assert users[0].meta["microscout_quota"]["records"] == 1
    assert spider.crawler.stats.get_value("microscout/tiktok/token_fetched") == 1
    assert spider.sent_with_token(videos) is False
    CredentialsMiddleware.from_crawler(spider.crawler).process_request(videos)
    assert spider.sent_with_token(videos)


def test_parse_videos_sightings_authors_and_the_next_page():
    spider = make_spider(tags=TAG, max_posts="60", min_followers=str(LO), max_followers=str(HI))
    (videos,) = with_token(spider)
    out = run_callback(videos, answer(spider, videos))
    expected = sweep_ids()[:60]
    sightings = [i for i in out if isinstance(i, HashtagSightingItem)]
    assert [(s.post_id, s.position, s.hashtag, s.listing) for s in sightings] == [
        (p, n, TAG, "recent") for n, p in enumerate(expected)]
    users = [r for r in out if isinstance(r, Request) and r.meta["microscout_kind"] == "user"]
    w = world()
    authors = authors_of(expected)
    assert [json.loads(r.body)["username"] for r in users] == [w.username(i).lower() for i in authors]
    for request in users:  # each carries its account's videos from this page
        posts = request.cb_kwargs["posts"]
        assert {p.author_handle for p in posts} == {json.loads(request.body)["username"]}
        assert request.cb_kwargs["discovered_via"] == TAG
    carried = sum(len(r.cb_kwargs["posts"]) for r in users)
    assert carried == 60
    assert not [i for i in out if isinstance(i, PostItem)]
    assert not [r for r in out if isinstance(r, Request) and r.meta["microscout_kind"] == "videos"]
    # 60 is max_posts: no next page; the 100 - 60 unreserved records are not booked at all
    assert json.loads(videos.body)["max_count"] == 60


def test_parse_videos_goes_to_the_next_window_and_refunds_records():
    spider = make_spider(tags=TAG)
    (videos,) = with_token(spider)
    first = answer(spider, videos)
    out = run_callback(videos, first)
    (next_page,) = [r for r in out if isinstance(r, Request) and r.meta["microscout_kind"] == "videos"]
    body = json.loads(next_page.body)
    assert (body["start_date"], body["end_date"], body.get("cursor")) == ("20260802", "20260831", None)
    assert next_page.cb_kwargs == {"tag": TAG, "window": 1, "page": 2, "offset": 84}
    assert spider.crawler.stats.get_value("microscout/tiktok/records_refunded") == 100 - 84
    out = run_callback(next_page, answer(spider, next_page))
    assert [i.position for i in out if isinstance(i, HashtagSightingItem)] == list(range(84, 116))
    # a second page of an author already asked for: the videos go on their own
    assert any(isinstance(i, PostItem) for i in out)
    assert not [r for r in out if isinstance(r, Request) and r.meta["microscout_kind"] == "videos"]


def test_parse_videos_pages_inside_a_window_by_cursor_and_search_id():
    spider = make_spider(tags=TAG, max_posts="200")
    (videos,) = with_token(spider)
    videos = videos.replace(body=research.dump_body({**json.loads(videos.body), "max_count": 30}),
                            meta={**videos.meta, "microscout_records": 30})
    out = run_callback(videos, answer(spider, videos))
    (next_page,) = [r for r in out if isinstance(r, Request) and r.meta["microscout_kind"] == "videos"]
    body = json.loads(next_page.body)
    assert body["cursor"] == 30
    assert body["search_id"].isdigit()
    assert (body["start_date"], body["end_date"]) == ("20260901", "20260930")


def test_parse_user_in_range_out_of_range_and_a_handle_list_account():
    spider = make_spider(tags=TAG, min_followers=str(LO), max_followers=str(HI), recent_posts="2")
    (videos,) = with_token(spider)
    out = run_callback(videos, answer(spider, videos))
    w = world()
    users = [r for r in out if isinstance(r, Request) and r.meta["microscout_kind"] == "user"]
    seen_in, seen_out = 0, 0
    for request in users:
        name = json.loads(request.body)["username"]
        account = w.account_by_username(name)
        if account.locked:
            continue
        got = run_callback(request, answer(spider, request))
        posts = request.cb_kwargs["posts"]
        if LO <= account.followers <= HI:
            seen_in += 1
            profile = got[0]
            assert isinstance(profile, ProfileItem)
            assert (profile.handle, profile.followers, profile.discovered_via) == (
                name, account.followers, TAG)
            assert profile.recent_posts == posts[:2]
            assert got[1:] == posts[2:]
            assert profile.profile_url == f"{BASE}/@{name}"
        else:
            seen_out += 1
            assert got == posts  # the profile is dropped, its videos kept
    assert seen_in
    assert seen_out
    # a handle-list account: user info, then its newest videos by username
    spider = make_spider(handles=w.username(authors_of(sweep_ids())[0]), recent_posts="3")
    (user,) = with_token(spider)
    (posts_request,) = run_callback(user, answer(spider, user))
    assert json.loads(posts_request.body)["query"]["and"][0]["field_name"] == "username"
    (profile,) = run_callback(posts_request, answer(spider, posts_request))
    assert len(profile.recent_posts) == 3
    assert profile.discovered_via == "handles"


def failure_of(request: Request, status: int, body: dict | bytes, headers: dict | None = None) -> Failure:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = TextResponse(request.url, status=status, body=data, request=request,
                            headers={"Content-Type": "application/json", **(headers or {})})
    failure = Failure(HttpError(response))
    failure.request = request  # type: ignore[attr-defined]
    return failure


def error_body(code: str, message: str = "") -> dict:
    return {"data": {}, "error": {"code": code, "message": message, "log_id": "L"}}


def test_an_expired_token_is_renewed_once_and_the_call_sent_again():
    spider = make_spider(tags=TAG)
    (videos,) = with_token(spider)
    CredentialsMiddleware.from_crawler(spider.crawler).process_request(videos)
    out = list(spider.on_error(failure_of(videos, 401, error_body("access_token_invalid"))))
    (renew,) = out
    assert renew.meta["microscout_kind"] == "token"
    assert renew.meta["microscout_refresh"] is True
    assert spider.holding()
    assert len(spider.parked) == 1
    other = spider.videos_request(TAG, 1)  # refused while the renewal is on its way: parked
    CredentialsMiddleware.from_crawler(spider.crawler).process_request(other)
    assert list(spider.on_error(failure_of(other, 401, error_body("access_token_invalid")))) == []
    released = run_callback(renew, answer(spider, renew))
    assert [r.meta["microscout_token_retry"] for r in released] == [True, True]
    assert not spider.holding()
    assert spider.crawler.stats.get_value("microscout/tiktok/token_refreshed") == 1
    retry = released[0]
    CredentialsMiddleware.from_crawler(spider.crawler).process_request(retry)
    rejected, = list(spider.on_error(failure_of(retry, 401, error_body("access_token_invalid", "no"))))
    assert (rejected.reason, rejected.item_type) == ("auth_required", "HashtagSightingItem")


def test_a_token_about_to_end_is_renewed_before_it_does():
    spider = make_spider(tags=TAG, refresh_margin="120")
    with_token(spider)
    scheduled: list[Request] = []
    spider.schedule = lambda request: scheduled.append(request) or True  # type: ignore[method-assign]
    now = spider.clock()
    spider.clock = lambda: now + 7200 - 121
    spider.credentials()
    assert scheduled == []
    spider.clock = lambda: now + 7200 - 119
    spider.credentials()
    spider.credentials()
    assert [r.meta["microscout_kind"] for r in scheduled] == ["token"]  # once
    assert spider.renewing
    assert spider.holding()


def test_a_rate_limited_call_is_retried_after_a_pause_and_refunded():
    spider = make_spider(tags=TAG)
    (videos,) = with_token(spider)
    body = error_body("rate_limit_exceeded", "The API rate limit was exceeded.")
    (retry,) = list(spider.on_error(failure_of(videos, 429, body)))
    assert retry.meta["retry_times"] == 1
    assert retry.url == videos.url
    assert spider.crawler.stats.get_value("microscout/tiktok/rate_limited") == 1
    assert spider.crawler.stats.get_value("microscout/tiktok/records_refunded") == 100
    retry = retry.replace(meta={**retry.meta, "retry_times": 2})
    rejected, = list(spider.on_error(failure_of(retry, 429, body)))
    assert rejected.reason == "rate_limited"
    assert "The API rate limit was exceeded" in rejected.detail


def test_the_daily_quota_and_a_refused_client_close_the_crawl():
    spider = make_spider(tags=TAG)
    (videos,) = with_token(spider)
    failure = failure_of(videos, 429, error_body("daily_quota_limit_exceeded", "quota spent"))
    out = spider.on_error(failure)
    rejected = next(out)
    assert (rejected.reason, rejected.detail) == (
        "quota_exhausted", "HTTP 429 TikTok Research API daily_quota_limit_exceeded: quota spent (log_id L)")
    with pytest.raises(CloseSpider) as closed:
        next(out)
    assert closed.value.reason == "tiktok_research_daily_quota_limit_exceeded"
    spider = make_spider(tags=TAG)
    (token_request,) = first_requests(spider)
    failure = failure_of(token_request, 401, {"error": "invalid_client", "log_id": "L",
                                               "error_description": "Client key or secret is incorrect."})
    out = spider.on_error(failure)
    rejected = next(out)
    assert (rejected.reason, rejected.item_type, rejected.payload) == ("auth_failed", "Session", None)
    with pytest.raises(CloseSpider) as closed:
        next(out)
    assert closed.value.reason == "tiktok_research_invalid_client"


def test_a_failed_user_info_keeps_the_videos_and_says_why():
    spider = make_spider(tags=TAG)
    posts = [PostItem(platform="tiktok", post_id="1", author_handle="ghost")]
    request = spider.user_request("ghost", TAG, posts)
    rejected, kept = list(spider.on_error(failure_of(
        request, 400, error_body("invalid_params", "API cannot find the user: ghost"))))
    assert (rejected.reason, rejected.item_type, kept) == ("not_found", "ProfileItem", posts[0])
    assert "API cannot find the user: ghost" in rejected.detail


def test_429_answers_reach_the_spider_not_retrymiddleware():
    crawler = get_crawler(TikTokResearchSpider, settings_dict={"RETRY_HTTP_CODES": [500, 429, 503]})
    crawler._apply_settings()
    assert crawler.settings.getlist("RETRY_HTTP_CODES") == [500, 503]


# --- end to end through the engine --------------------------------------------------------------


FAST = {"MICROSCOUT_RATE_LIMIT_TIKTOK": 0, "MICROSCOUT_MAX_RETRY_AFTER": 1,
        "MICROSCOUT_RATELIMIT_DEFAULT_WAIT": 0.05, "MICROSCOUT_RATELIMIT_BODY_WAIT": 0.2,
        "LOG_LEVEL": "INFO", **KEYS}
SWEEP = {"tags": TAG, "since": SINCE, "until": UNTIL, "recent_posts": "5",
         "min_followers": str(LO), "max_followers": str(HI)}


def crawl(base_url: str, settings: dict | None = None, *, pipelines: bool = False, **kwargs):
    base = FAST if pipelines else {**FAST, "ITEM_PIPELINES": {}}
    return run_spider("tiktok_research", {**base, **(settings or {})}, use_project_settings=True,
                      base_url=base_url, **{**SWEEP, **kwargs})


def research_counts(process) -> dict:
    return process.set_knobs().get("research", {}).get("counts", {})


def sqlite_warehouse(tmp_path) -> str:
    from models import migrate

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    migrate.upgrade(url)
    return url


def sql(url: str, query_: str) -> list:
    from tests.test_e2e_warehouse import _scalar

    return _scalar(url, query_)


@pytest.fixture(scope="module")
def sandbox():
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", rate_limit=1_000_000,
                        knobs={"missing_likes": "0.05", "nul_usernames": "0.05"}) as process:
        yield process


@pytest.mark.slow
def test_sweep_through_every_pipeline_into_sqlite(sandbox, tmp_path):
    url = sqlite_warehouse(tmp_path)
    before = research_counts(sandbox)
    items = crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_DB_RETRY_DELAY": 0},
                  pipelines=True)
    after = research_counts(sandbox)
    assert items.stats["finish_reason"] == "finished"
    w = world()
    ids = sweep_ids()
    sightings = [i for i in items if "position" in i]
    assert [(s["post_id"], s["position"]) for s in sightings] == [(p, n) for n, p in enumerate(ids)]
    authors = authors_of(ids)
    in_range = sorted(w.username(i).lower() for i in authors
                      if LO <= w.followers(i) <= HI and not w.account(i).locked)
    profiles = [i for i in items if "followers" in i]
    assert sorted(p["handle"] for p in profiles) == in_range
    locked = [w.username(i).lower() for i in authors if w.account(i).locked]
    rejected = [i for i in items if "reason" in i]
    assert sorted(r["reason"] for r in rejected) == ["unavailable"] * len(locked)
    from crawler.sandbox.server import SandboxConfig
    from crawler.sandbox.tiktok import TikTokApp

    region = TikTokApp.from_config(w, SandboxConfig(platform="tiktok")).research.region
    for profile in profiles:
        account = w.account_by_username(profile["handle"])
        assert profile["followers"] == account.followers
        assert profile["posts_count"] == account.statuses_count
        assert all(p["author_handle"] == profile["handle"] for p in profile["recent_posts"])
        assert profile["country"] == region(account)  # the videos' region_code
    assert {p["country"] for p in profiles} - {None}
    # the warehouse
    assert sql(url, "SELECT count(*) FROM hashtag_sightings") == [(len(ids),)]
    assert sql(url, "SELECT count(*) FROM posts") == [(len(ids),)]  # every video, once
    assert sorted(r[0] for r in sql(url, "SELECT handle FROM profiles WHERE platform = 'tiktok'")) == in_range
    assert sql(url, "SELECT finish_reason FROM crawl_runs") == [("finished",)]
    # the quirks: NUL bytes cleaned off the author, a missing like count stays NULL
    nul = [pid for pid in ids if _has_nul_username(pid)]
    assert nul, "the sandbox put NUL bytes in some usernames"
    authors_seen = dict(sql(url, "SELECT post_id, author_handle FROM hashtag_sightings"))
    for pid in nul:
        assert authors_seen[pid] == w.username(w.post_by_id(pid).account_index).lower()
    handles = [r[0] for r in sql(url, "SELECT handle FROM profiles")] + list(authors_seen.values())
    assert not [h for h in handles if h is None or "\x00" in h]
    missing = [pid for pid in ids if _lacks_likes(pid)]
    assert missing, "the sandbox left like_count out of some videos"
    rows = dict(sql(url, "SELECT post_id, likes FROM posts"))
    assert all(rows[pid] is None for pid in missing)
    assert all(rows[pid] is not None for pid in ids if pid not in missing)
    # the budget's rows name the API host and a fingerprint of the key, never the key
    accounts = {r[0] for r in sql(url, "SELECT account FROM api_usage")}
    assert accounts == {account_of(sandbox.base_url.split("://")[1], CLIENT_KEY)}
    assert sql(url, "SELECT count(*) FROM api_usage WHERE api = 'tiktok_research' "
                    "AND unit IN ('requests', 'records')") == [(2,)]
    assert items.stats["microscout/quota/tiktok_research/requests"] == (
        after["requests"] - before.get("requests", 0))
    assert items.stats["microscout/quota/tiktok_research/records"] == (
        after["records"] - before.get("records", 0))


@pytest.mark.slow
def test_api_usage_books_exactly_what_the_api_served(sandbox, tmp_path):
    url = sqlite_warehouse(tmp_path)
    before = research_counts(sandbox)
    crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_DB_RETRY_DELAY": 0},
          pipelines=True, max_posts="30")
    after = research_counts(sandbox)
    usage = dict(sql(url, "SELECT unit, used FROM api_usage WHERE api = 'tiktok_research'"))
    assert usage == {"requests": after["requests"] - before.get("requests", 0),
                     "records": after["records"] - before.get("records", 0)}


@cache
def app_with_quirks() -> TikTokApp:
    sandbox = TikTokApp(world())
    sandbox.configure({"missing_likes": "0.05", "nul_usernames": "0.05"})
    return sandbox


def _has_nul_username(post_id: str) -> bool:
    post = world().post_by_id(post_id)
    return "\x00" in app_with_quirks().research.video_json(post, ["username"], BASE)["username"]


def _lacks_likes(post_id: str) -> bool:
    post = world().post_by_id(post_id)
    return "like_count" not in app_with_quirks().research.video_json(post, ["like_count"], BASE)


@pytest.mark.slow
def test_a_budget_stops_the_run_cleanly_and_the_next_run_gets_what_is_left(sandbox, tmp_path):
    url = sqlite_warehouse(tmp_path)
    limit = 6
    settings = {"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_DB_RETRY_DELAY": 0,
                "MICROSCOUT_TIKTOK_DAILY_REQUESTS": limit}
    before = research_counts(sandbox).get("requests", 0)
    first = crawl(sandbox.base_url, settings, pipelines=True, max_posts="3", max_pages="1")
    spent = research_counts(sandbox).get("requests", 0) - before
    assert first.stats["finish_reason"] == "finished"
    assert 2 <= spent < limit
    assert dict(sql(url, "SELECT unit, used FROM api_usage"))["requests"] == spent
    second = crawl(sandbox.base_url, settings, pipelines=True)
    assert research_counts(sandbox).get("requests", 0) - before == limit  # only what was left
    assert second.stats["finish_reason"] == "quota_exhausted"
    assert second.stats["microscout/quota/exhausted"] == "tiktok_research:requests"
    assert "TikTok Research API requests (reset at midnight UTC): 6 of 6 used" in second.log
    assert dict(sql(url, "SELECT unit, used FROM api_usage"))["requests"] == limit
    third = crawl(sandbox.base_url, settings, pipelines=True)
    assert third.stats["finish_reason"] == "quota_exhausted"
    assert research_counts(sandbox).get("requests", 0) - before == limit  # nothing more sent
    assert not [i for i in third if "position" in i]


@pytest.mark.slow
def test_a_run_stopped_by_its_budget_is_recorded_aborted(sandbox, tmp_path):
    url = sqlite_warehouse(tmp_path)
    items = crawl(sandbox.base_url, {"MICROSCOUT_DATABASE_URL": url, "MICROSCOUT_DB_RETRY_DELAY": 0,
                                     "MICROSCOUT_TIKTOK_DAILY_REQUESTS": 3}, pipelines=True)
    assert items.stats["finish_reason"] == "quota_exhausted"
    assert sql(url, "SELECT status, finish_reason FROM crawl_runs") == [("aborted", "quota_exhausted")]


@pytest.mark.slow
def test_the_token_is_renewed_before_it_ends():
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", rate_limit=1_000_000,
                        knobs={"token_ttl": "1"}) as process:
        # paced: 0.05 s between calls, so the sweep lasts well past one token's second (a busy
        # machine only makes it last longer)
        items = crawl(process.base_url, {"MICROSCOUT_RATE_LIMIT_TIKTOK": 0.05}, refresh_margin="300",
                      min_followers=str(LO), max_followers=str(HI))
        counts = research_counts(process)
    assert items.stats["finish_reason"] == "finished"
    assert items.stats["microscout/tiktok/token_refreshed"] >= 1
    assert counts["tokens_issued"] == items.stats["microscout/tiktok/token_refreshed"] + 1
    assert [i["post_id"] for i in items if "position" in i] == sweep_ids()
    assert not [i for i in items if "reason" in i and i["reason"] != "unavailable"]


@pytest.mark.slow
def test_a_refused_token_is_renewed_and_the_calls_sent_again():
    from crawler.sandbox.server import SandboxProcess

    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", rate_limit=1_000_000,
                        knobs={"token_ttl": "1"}) as process:
        # refresh_margin=0: no renewal ahead of time, so calls after a second meet a 401 first
        items = crawl(process.base_url, {"MICROSCOUT_RATE_LIMIT_TIKTOK": 0.05}, refresh_margin="0")
        counts = research_counts(process)
    assert items.stats["finish_reason"] == "finished"
    assert counts["tokens_refused"] >= 1
    assert items.stats["microscout/tiktok/token_retried"] >= 1
    assert [i["post_id"] for i in items if "position" in i] == sweep_ids()
    assert not [i for i in items if "reason" in i and i["reason"] != "unavailable"]


@pytest.mark.slow
def test_the_daily_quota_answer_closes_the_crawl(tmp_path):
    from crawler.sandbox.server import SandboxProcess

    url = sqlite_warehouse(tmp_path)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", rate_limit=1_000_000,
                        knobs={"daily_requests": "2"}) as process:
        items = crawl(process.base_url, {"CONCURRENT_REQUESTS": 1, "MICROSCOUT_DATABASE_URL": url,
                                         "MICROSCOUT_DB_RETRY_DELAY": 0}, pipelines=True)
        counts = research_counts(process)
    assert items.stats["finish_reason"] == "tiktok_research_daily_quota_limit_exceeded"
    assert sql(url, "SELECT finish_reason FROM crawl_runs") == [
        ("tiktok_research_daily_quota_limit_exceeded",)]
    refused = sql(url, "SELECT detail FROM rejected_items WHERE reason = 'quota_exhausted'")
    assert refused  # the call(s) the API refused (one may have been on its way already)
    assert all("daily_quota_limit_exceeded" in detail for (detail,) in refused)
    rejected = [i for i in items if i.get("reason") == "quota_exhausted"]
    assert rejected
    assert "daily_quota_limit_exceeded" in rejected[0]["detail"]
    assert counts["requests"] == 2
    assert counts["daily_refused"] == len(refused)
    assert items.stats.get("retry/count", 0) == 0  # not sent again


@pytest.mark.slow
def test_a_rate_limit_answer_pauses_and_the_call_goes_again():
    from crawler.sandbox.server import SandboxProcess

    # the server's throttle: the 3rd API call from now is answered 429 rate_limit_exceeded once
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", rate_limit=1_000_000,
                        knobs={"throttle_after": "2"}) as process:
        items = crawl(process.base_url, {}, max_posts="40")
    assert items.stats["finish_reason"] == "finished"
    assert items.stats["downloader/response_status_count/429"] == 1
    assert items.stats["microscout/tiktok/rate_limited"] == 1  # sent again by the spider...
    assert items.stats["retry/reason_count/rate_limited"] == 1
    assert items.stats["microscout/ratelimit/paused"] >= 1  # ...after the host's pause
    assert "retry/reason_count/429 Unknown Status" not in items.stats  # not RetryMiddleware
    assert [i["post_id"] for i in items if "position" in i] == sweep_ids()[:40]
    assert not [i for i in items if "reason" in i and i["reason"] != "unavailable"]


def sandbox_token(base_url: str) -> str:
    form = urlencode(research.token_form(CLIENT_KEY, CLIENT_SECRET)).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base_url}/v2/oauth/token/", data=form),
                                timeout=5) as got:
        return json.loads(got.read())["access_token"]


@pytest.mark.slow
def test_key_secret_and_token_stay_out_of_log_warehouse_and_quarantine(sandbox, tmp_path):
    from tests.test_secrets import assert_masked, with_header_logger

    url = sqlite_warehouse(tmp_path)
    token = sandbox_token(sandbox.base_url)  # the token the crawl gets too (no token_ttl)
    items = crawl(sandbox.base_url, {**with_header_logger(), "MICROSCOUT_DATABASE_URL": url,
                                     "MICROSCOUT_DB_RETRY_DELAY": 0}, pipelines=True)
    secrets = [CLIENT_KEY, CLIENT_SECRET, token]
    assert_masked(items.log, secrets)
    assert "'Authorization': 'Bearer ***'" in items.log
    host = sandbox.base_url.split("://")[1]
    assert f"Credentials are sent only to: {host}" in items.log
    rows = [*sql(url, "SELECT arguments FROM crawl_runs"),
            *sql(url, "SELECT reason, detail, payload, source_url FROM rejected_items"),
            *sql(url, "SELECT account FROM api_usage")]
    dump = json.dumps([tuple(row) for row in rows], default=str) + json.dumps(
        dict(items.stats), default=str)
    assert "refresh_margin" in dump  # the arguments are there, with nothing secret
    assert sql(url, "SELECT count(*) FROM rejected_items")[0][0] >= 1  # the private account
    for secret in secrets:
        assert secret not in dump
    assert [i for i in items if "followers" in i]


@pytest.mark.slow
def test_a_fresh_recording_holds_no_client_secret_or_token(sandbox, tmp_path):
    path = tmp_path / "fresh.yaml"
    token = sandbox_token(sandbox.base_url)
    crawl(sandbox.base_url, cassette_settings(path, record_mode="once", match_on=MATCH_ON),
          max_posts="5", max_pages="1")
    text = path.read_text(encoding="utf-8")
    assert "/v2/oauth/token/" in text
    assert "/v2/research/video/query/" in text
    for secret in (CLIENT_KEY, CLIENT_SECRET, token):
        assert secret not in text


@pytest.mark.slow
@pytest.mark.redis
def test_two_workers_of_a_job_leave_what_a_single_sweep_leaves(tmp_path):
    """The token call stays on each worker (never in Redis, nor the key, secret or token);
    a user info carries its account's videos in the request, so any worker can answer it."""
    import redis

    from crawler.commands.common import project_settings
    from crawler.distributed.enqueue import enqueue
    from crawler.sandbox.server import SandboxProcess
    from tests.conftest import require_service
    from tests.test_distributed import REDIS, env_for, start_worker, wait_all, warehouse

    require_service("Redis", "127.0.0.1", 6379)
    prefix = f"test-research-{tmp_path.name[-8:]}"
    urls = {mode: sqlite_warehouse(tmp_path / mode) for mode in ("single", "job")
            if (tmp_path / mode).mkdir() is None}
    arguments = {**SWEEP, "max_posts": "60"}
    try:
        with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", rate_limit=1_000_000) as box:
            crawl(box.base_url, {"MICROSCOUT_DATABASE_URL": urls["single"], "MICROSCOUT_DB_RETRY_DELAY": 0},
                  pipelines=True, **arguments)
            settings = project_settings({"MICROSCOUT_REDIS_URL": REDIS, "MICROSCOUT_REDIS_PREFIX": prefix,
                                         "MICROSCOUT_DATABASE_URL": urls["job"]})
            enqueue(TikTokResearchSpider, settings, {**arguments, "base_url": box.base_url}, "research")
            env = env_for(prefix, urls["job"], **{k: str(v) for k, v in {**FAST, "LOG_LEVEL": "INFO"}.items()
                                                  if k.startswith("MICROSCOUT_")})
            workers = [start_worker(env, tmp_path, f"research{i}", "--job", "research") for i in range(2)]
            assert wait_all(workers) == [0, 0], [(tmp_path / f"research{i}.log").read_text()[-3000:]
                                                 for i in range(2)]
        expected, got = warehouse(urls["single"]), warehouse(urls["job"])
        assert got["snapshots"] == expected["snapshots"]
        assert got["sightings"] == expected["sightings"]
        assert got["posts"] == expected["posts"]
        assert expected["snapshots"]
        logs = "".join((tmp_path / f"research{i}.log").read_text() for i in range(2))
        assert logs.count("Got a Research API token") == 2  # each worker for itself
        server = redis.Redis.from_url(REDIS)
        token = token_of()
        read = {"hash": lambda k: b"".join(b"".join(p) for p in server.hgetall(k).items()),
                "string": server.get, "zset": lambda k: b"".join(server.zrange(k, 0, -1)),
                "list": lambda k: b"".join(server.lrange(k, 0, -1)),
                "set": lambda k: b"".join(server.smembers(k))}
        keys = list(server.scan_iter(f"{prefix}:*"))
        assert keys
        for key in keys:
            value = read[server.type(key).decode()](key) or b""
            for secret in (CLIENT_KEY, CLIENT_SECRET, token, "Bearer "):
                assert secret.encode() not in value, (key, secret)
    finally:
        server = redis.Redis.from_url(REDIS)
        keys = list(server.scan_iter(f"{prefix}:*"))
        if keys:
            server.delete(*keys)


# --- the cassette ------------------------------------------------------------------------------


MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "body")
CASSETTE_SWEEP = {**SWEEP, "max_posts": "40", "recent_posts": "3"}
#: What the token call's form and answer hold in the checked-in cassette (scrubbed).
FILTERED = "<filtered>"
REPLAY_KEYS = {"MICROSCOUT_TIKTOK_CLIENT_KEY": FILTERED, "MICROSCOUT_TIKTOK_CLIENT_SECRET": FILTERED}


@pytest.mark.slow
def test_cassette_holds_no_secret_and_replays_through_the_whole_pipeline(tmp_path):
    text = CASSETTE.read_text(encoding="utf-8")
    for secret in (CLIENT_KEY, CLIENT_SECRET, token_of()):
        assert secret not in text
    url = sqlite_warehouse(tmp_path)
    # the recorded token call's form holds <filtered> for the key and secret: replayed, the
    # call matches only with those values (nothing is sent anywhere: record mode none)
    replay = cassette_settings(CASSETTE, match_on=MATCH_ON)
    items = run_spider("tiktok_research", {**FAST, **REPLAY_KEYS, **replay, "MICROSCOUT_DATABASE_URL": url,
                                           "MICROSCOUT_DB_RETRY_DELAY": 0},
                       use_project_settings=True, base_url=BASE, **CASSETTE_SWEEP)
    assert items.stats.get("microscout/cassette/missed", 0) == 0
    assert items.stats["microscout/cassette/played"] > 5
    assert items.stats["finish_reason"] == "finished"
    ids = sweep_ids()[:40]
    assert [i["post_id"] for i in items if "position" in i] == ids
    w = world()
    in_range = sorted(w.username(i).lower() for i in authors_of(ids)
                      if LO <= w.followers(i) <= HI and not w.account(i).locked)
    assert sorted(r[0] for r in sql(url, "SELECT handle FROM profiles")) == in_range
    assert sql(url, "SELECT count(*) FROM hashtag_sightings") == [(40,)]
    assert sql(url, "SELECT count(*) FROM influencer_current WHERE tier IS NOT NULL")[0][0] == len(in_range)


def scrub_cassette(path: Path) -> None:
    """Replace the client key and secret in the token call's form and the token in its answer
    with ``<filtered>`` (what crawler/cassette.py does for JSON bodies)."""
    from vcr.serializers import yamlserializer

    data = yamlserializer.deserialize(path.read_text(encoding="utf-8"))
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        if not request["uri"].endswith("/v2/oauth/token/"):
            continue
        request["body"] = urlencode(research.token_form(FILTERED, FILTERED))
        body = response["body"]["string"]
        answer_ = json.loads(body)
        if "access_token" in answer_:
            answer_["access_token"] = FILTERED
        response["body"]["string"] = json.dumps(answer_, separators=(",", ":"))
        response["headers"].pop("Content-Length", None)
    path.write_text(yamlserializer.serialize(data), encoding="utf-8")


def record() -> None:
    """Re-record the cassette from the sandbox on port 8799, then scrub the token call."""
    from crawler.sandbox.server import SandboxProcess

    CASSETTE.unlink(missing_ok=True)
    with SandboxProcess(accounts=ACCOUNTS, seed=SEED, platform="tiktok", port=8799,
                        rate_limit=1_000_000):
        items = run_spider("tiktok_research", {**FAST, "ITEM_PIPELINES": {}, "CONCURRENT_REQUESTS": 1,
                                               **cassette_settings(CASSETTE, record_mode="once",
                                                                   match_on=MATCH_ON)},
                           use_project_settings=True, base_url=BASE, **CASSETTE_SWEEP)
    scrub_cassette(CASSETTE)
    print(f"recorded {items.stats.get('microscout/cassette/recorded')} interactions to {CASSETTE}")


if __name__ == "__main__":
    record()
