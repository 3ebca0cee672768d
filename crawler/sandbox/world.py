"""The synthetic social network behind the sandbox: accounts, posts and a hashtag index.

Platform-neutral data only: the Mastodon module (and later siblings) turn it into each
platform's JSON. Everything follows from ``(accounts, seed)``; nothing reads the wall clock
or the global ``random`` state:

* Account core numbers come from one ``random.Random(seed-derived)`` of which only
  ``random()`` is used (the one method whose stream Python guarantees across versions).
* Post skeletons (ids, hashtags) are built for all accounts at once with numpy, integer
  arithmetic only, on SHAKE-256 output; account details and post bodies are generated on
  demand from SHAKE-256 of ``(seed, purpose, index)`` and cached. So a world is the same on
  every machine, Python and numpy release, and 50,000 accounts (about 1.1 million posts)
  build in about 1.5 s and under 100 MB.
* Times are measured back from the fixed :data:`EPOCH`.

Ids are Mastodon-style snowflakes (milliseconds since 1970 shifted left 16 bits); the low
bits and the millisecond part encode the account index, so ids are unique by construction
and a post id names its author without a lookup table.

Planted creator signals, the ground truth detectors are measured against
(:meth:`World.truth` -> :class:`Planted`), each drawn from streams of its own so that the
accounts' other fields stay what they were:

* bought followers (~6.6% of accounts with 100+ followers): from ``spike_day`` (1 to 4) on,
  ``followers_at`` adds 25% to 80% of the base; their posts' engagement stays that of the base.
  Follower counts move with the sandbox day (:meth:`World.set_day`, the servers' ``day`` knob):
  a per-account trend of -0.2% to +1% a day and noise under 0.5%; day 0 is the base;
* engagement pods (~6.5%): engagement 3-6x the account's rate, replies 35-55% of it (5-15%
  elsewhere);
* mass-follow (~6.5%, accounts of 375 to 5,000 followers): following 1.5-4x the followers, 1,500
  to 7,500. A natural account follows at most max(followers, 300);
* sponsored feeds (~6.5%): 30-60% of the posts are paid partnerships
  (:meth:`World.post_sponsored`), disclosed by the platform's flag, a hashtag or a phrase in the
  account's language (:meth:`World.post_disclosure`); 3% of the other posts carry a confounder
  (:meth:`World.post_confounder`);
* contact emails in bios (~6.5%, some obfuscated), 5% of the other bios a confounder
  (:meth:`World.bio_confounder`);
* twins (~6% of indexes, the same in every world): one creator's username, display name and
  niche at that index whatever the seed, half of them with a cross-link
  (:meth:`World.twin_link`).

Spike, pod and mass-follow exclude one another; the others are independent.
"""

from __future__ import annotations

import hashlib
import math
import struct
import threading
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from operator import itemgetter
from random import Random
from statistics import NormalDist

import numpy as np

import crawler.sandbox.vocab as vocab
from crawler.sandbox.vocab import NICHES

#: "Now" inside the sandbox. Post times and account ages are measured back from it.
EPOCH = datetime(2026, 10, 1, tzinfo=timezone.utc)
_EPOCH_S = int(EPOCH.timestamp())
_DAY = 86_400

TIERS = ("nano", "micro", "macro", "mega")
#: Engagement rate ((favourites + replies) / followers per post) each tier is built around.
BASE_ENGAGEMENT = {"nano": 0.06, "micro": 0.035, "macro": 0.015, "mega": 0.008}


def tier_of(followers: int) -> str:
    """The default (``seed``) tier scheme of the architecture."""
    if followers < 1_000:
        return "nano"
    if followers < 100_000:
        return "micro"
    if followers < 1_000_000:
        return "macro"
    return "mega"


# --- deterministic helpers (only .random() of a generator is used) ------------------------


def _mix(*parts: object) -> int:
    """A stable 64-bit seed from the parts (``hash()`` is salted per process; this is not)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


_DRAWS_BLOCK = 32  # a post takes about 26 draws
_DRAWS_UNPACK = struct.Struct(f"<{_DRAWS_BLOCK}Q").unpack
_TWO_TO_MINUS_64 = 2.0**-64


class _Draws:
    """A short stream of uniform floats from SHAKE-256 of the parts.

    For the many small on-demand generators (one per account, one per post): ten times
    cheaper to start than ``Random(seed)``, and the same on every platform and version.
    """

    __slots__ = ("_block", "_key", "_next", "_values")

    def __init__(self, *parts: object) -> None:
        self._key = repr(parts).encode()
        self._block = 0
        self._values: tuple[int, ...] = ()
        self._next = 0
        self._refill()

    def _refill(self) -> None:
        digest = hashlib.shake_256(self._key + b"#%d" % self._block).digest(8 * _DRAWS_BLOCK)
        self._values = _DRAWS_UNPACK(digest)
        self._next = 0
        self._block += 1

    def random(self) -> float:
        if self._next == _DRAWS_BLOCK:
            self._refill()
        value = self._values[self._next]
        self._next += 1
        return value * _TWO_TO_MINUS_64


def _pick(rng: Random | _Draws, seq: Sequence):
    return seq[int(rng.random() * len(seq))]


def _sample(rng: Random | _Draws, seq: Sequence, k: int) -> list:
    pool = list(seq)
    k = min(k, len(pool))
    for i in range(k):
        j = i + int(rng.random() * (len(pool) - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


def _normal(rng: Random | _Draws) -> float:
    """Standard normal deviate by Box-Muller (``Random.gauss`` is not stream-stable)."""
    u1 = 1.0 - rng.random()  # (0, 1]
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * rng.random())


def _lognormal_noise(rng: Random | _Draws, sigma: float) -> float:
    """Multiplicative noise with mean 1."""
    return math.exp(sigma * _normal(rng) - sigma * sigma / 2.0)


def _stochastic_round(rng: Random | _Draws, x: float) -> int:
    whole = int(x)
    return whole + (1 if rng.random() < x - whole else 0)


def _hmix(sec: int) -> int:
    return ((sec * 2_654_435_761) >> 8) % 1000


def snowflake(sec: int, index: int) -> int:
    """A Mastodon-style id for second ``sec`` that encodes ``index`` (unique per pair)."""
    ms = ((index >> 16) + _hmix(sec)) % 1000
    return ((sec * 1000 + ms) << 16) | (index & 0xFFFF)


def snowflake_index(snowflake_id: int) -> int:
    """The index encoded by :func:`snowflake`."""
    sec, ms = divmod(snowflake_id >> 16, 1000)
    return (((ms - _hmix(sec)) % 1000) << 16) | (snowflake_id & 0xFFFF)


def snowflake_time(snowflake_id: int) -> datetime:
    return datetime.fromtimestamp((snowflake_id >> 16) / 1000, tz=timezone.utc)


# --- data ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: str  # plain text; a URL when it starts with https://


@dataclass(frozen=True, slots=True)
class Account:
    index: int
    id: str
    username: str  # case preserved; lookups are case-insensitive
    display_name: str
    note: str  # plain-text bio; paragraphs separated by a blank line
    language: str
    niche: str
    followers: int
    following: int
    statuses_count: int
    created_at: datetime  # the real creation time (Mastodon shows only the day)
    last_status_at: datetime
    post_count: int  # posts the sandbox serves for this account (its recent history)
    locked: bool
    bot: bool
    discoverable: bool | None
    indexable: bool
    noindex: bool
    hide_collections: bool | None
    fields: tuple[Field, ...]
    avatar_key: str | None  # None: the default "missing" avatar
    header_key: str | None
    # what the generator intended, for tests that check the data against it
    engagement: float  # mean (favourites + replies) / followers its posts are drawn around
    hostile: bool  # display name or bio holds SQL/HTML-looking text
    rtl: bool  # display name or bio holds right-to-left text

    @property
    def tier(self) -> str:
        return tier_of(self.followers)

    @property
    def website(self) -> str | None:
        for f in self.fields:
            if f.value.startswith("https://"):
                return f.value
        return None


@dataclass(frozen=True, slots=True)
class Media:
    id: str
    kind: str  # image, video, gifv
    width: int
    height: int
    description: str | None
    key: str  # file name stem


@dataclass(frozen=True, slots=True)
class Post:
    id: str
    account_index: int
    created_at: datetime
    text: str  # plain text with inline "#Tag" and "@user" tokens; "\n\n" between paragraphs
    tags: tuple[str, ...]  # lower-case names, in order of appearance
    mentions: tuple[int, ...]  # account indices
    favourites: int
    reblogs: int
    replies: int
    quotes: int
    media: tuple[Media, ...]
    language: str
    sensitive: bool
    spoiler_text: str
    edited_at: datetime | None
    application: tuple[str, str | None]

    @property
    def id_int(self) -> int:
        return int(self.id)


@dataclass(frozen=True, slots=True)
class Planted:
    """The creator signals planted on one account: the truth detectors are measured against.

    Spike, pod and mass-follow exclude one another (an account shows at most one of them, so
    each detector's errors can be told apart); sponsored, email and twin are independent.
    """

    spike_day: int | None  # sandbox day on which bought followers arrive (None: never)
    spike: int  # followers added that day (0 when none)
    pod: bool  # engagement pod: engagement inflated 3-6x, comment-heavy (replies 35-55%)
    mass_follow: bool  # follows 1.5-4x as many accounts as follow it (1,500 to 7,500)
    sponsored: bool  # sponsored feed: 30-60% of its posts are paid partnerships
    email: str | None  # contact email in its bio (the true address, even if obfuscated there)
    twin: str | None  # creator key: the same key marks this creator's accounts in other worlds


@dataclass(frozen=True, slots=True)
class _Twin:
    """One creator present at the same index of every world (see :func:`_twin_of`)."""

    key: str  # "ana-okafor-217": a DNS label
    username: str  # "ana_okafor_217"
    display_name: str  # "Ana Okafor"
    niche: int  # index into the niche list
    link: str | None  # "website", "bio" or None: how it names its other accounts
    line: str | None  # the bio line, for link == "bio"

    @property
    def website(self) -> str:
        return f"https://{self.key}.example.com"


@dataclass(frozen=True, slots=True)
class _Plan:
    """An account's planted truth plus the numbers that realise it."""

    truth: Planted
    pod_factor: float  # multiplies its engagement (1.0 unless a pod)
    following: int | None  # a mass-follow account's following (None: natural)
    trend: float  # natural daily follower growth rate
    email_line: str | None  # the bio line holding the email
    bio_confounder: str | None  # a natural bio's misleading line (no email)


# --- the world -------------------------------------------------------------------------

_LANGUAGES = tuple(lang for lang, _ in vocab.LANGUAGES)
_LANGUAGE_CUM = tuple(
    sum(weight for _, weight in vocab.LANGUAGES[: k + 1]) for k in range(len(vocab.LANGUAGES))
)
_NICHE_LIST = tuple(NICHES[name] for name in vocab.NICHE_NAMES)


def _tag_tables() -> tuple:
    """Every tag combination a post can carry, numbered, for the vectorised skeleton.

    A post's tags are one *combo* (an ordered sample of 1, 2 or 3 of its niche's hashtags)
    plus at most one *extra* tag (generic, language, or another niche's main tag).
    """
    combos: list[tuple[str, ...]] = []
    base = np.zeros((len(_NICHE_LIST), 3), dtype=np.int64)  # first combo code per size
    size = np.zeros((len(_NICHE_LIST), 3), dtype=np.int64)  # number of combos per size
    for n, niche in enumerate(_NICHE_LIST):
        tags = niche.hashtags
        by_size: tuple[list[tuple[str, ...]], ...] = (
            [(a,) for a in tags],
            [(a, b) for a in tags for b in tags if a != b],
            [(a, b, c) for a in tags for b in tags for c in tags if len({a, b, c}) == 3],
        )
        for s, group in enumerate(by_size):
            base[n, s] = len(combos)
            size[n, s] = len(group)
            combos.extend(group)
    generic = vocab.GENERIC_HASHTAGS
    language_tags = [vocab.LANGUAGE_HASHTAGS[lang] for lang in _LANGUAGES]
    cross = tuple(n.hashtags[0] for n in _NICHE_LIST)
    extras = list(generic)
    language_base = []
    for tags in language_tags:
        language_base.append(len(extras))
        extras.extend(tags)
    cross_base = len(extras)
    extras.extend(cross)
    return (
        tuple(combos),
        base,
        size,
        tuple(extras),
        np.array(language_base, dtype=np.int64),
        np.array([len(t) for t in language_tags], dtype=np.int64),
        cross_base,
    )


(
    _COMBOS,
    _COMBO_BASE,
    _COMBO_SIZE,
    _EXTRAS,
    _LANGUAGE_TAG_BASE,
    _LANGUAGE_TAG_COUNT,
    _CROSS_BASE,
) = _tag_tables()


def _codes_by_tag() -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]]]:
    """Tag -> the combo codes that contain it, and tag -> its extra-tag codes."""
    combos: dict[str, list[int]] = {}
    for code, combo in enumerate(_COMBOS):
        for tag in combo:
            combos.setdefault(tag, []).append(code)
    extras: dict[str, list[int]] = {}
    for code, tag in enumerate(_EXTRAS):
        extras.setdefault(tag, []).append(code)
    return (
        {tag: np.array(codes, dtype=np.int16) for tag, codes in combos.items()},
        {tag: tuple(codes) for tag, codes in extras.items()},
    )


_COMBOS_WITH_TAG, _EXTRA_CODES = _codes_by_tag()

# --- planted creator signals: rates and tables -------------------------------------------------
#
# Every planted pattern is drawn from streams of its own ("planted", "planted-posts",
# "planted-post", "twins"), never from the account or post streams: an account's unplanted
# fields are the ones it had before the patterns existed.

SPIKE_RATE = 0.07  # bought followers (accounts of at least 100 followers)
POD_RATE = 0.065  # engagement pods
MASS_FOLLOW_SHARE = 0.15  # of the accounts a mass-follow fits (375 to 5,000 followers): ~6.5%
SPONSORED_PER_MILLE = 65  # sponsored feeds, 6.5%
EMAIL_RATE = 0.065  # contact emails in bios
BIO_CONFOUNDER_RATE = 0.05  # of the bios without an email
POST_CONFOUNDER_PERCENT = 3  # of the posts that are not sponsored
TWIN_PERCENT = 6  # of indexes, in every world
SPIKE_MIN_FOLLOWERS = 100
MASS_FOLLOW_RANGE = (375, 5_000)  # where following = followers x 1.5-4 fits 1,500-7,500
MASS_FOLLOW_LIMITS = (1_500, 7_500)
NATURAL_FOLLOWING_FLOOR = 300  # a natural account follows at most max(followers, this)
MAX_DAY = 36_500  # the last sandbox day (World.set_day): a century of daily counts

#: How a sponsored post discloses, by code (0: not sponsored). "flag": only the platform's own
#: paid-partnership flag (Instagram web, TikTok web, YouTube videos.list); on the formats
#: without one (Mastodon, Bluesky, Instagram Graph, TikTok Research) such a post is undisclosed.
DISCLOSURES = (None, "flag", "hashtag", "phrase", "flag+hashtag")
_FLAG, _HASHTAG, _PHRASE, _FLAG_HASHTAG, _CONFOUND_TAG, _CONFOUND_TEXT = 1, 2, 3, 4, 5, 6

#: Hashtags only planted posts carry: the disclosure ones, then the confounders.
PLANTED_TAGS: tuple[str, ...] = (
    *dict.fromkeys(t for lang in _LANGUAGES for t in vocab.DISCLOSURE_HASHTAGS[lang]),
    *vocab.CONFOUNDER_HASHTAGS,
)
_PLANTED_CODES = {tag: code for code, tag in enumerate(PLANTED_TAGS)}
_CONFOUND_TAG_BASE = len(PLANTED_TAGS) - len(vocab.CONFOUNDER_HASHTAGS)
_DISCLOSURE_TABLE = np.array(
    [[_PLANTED_CODES[vocab.DISCLOSURE_HASHTAGS[lang][j % len(vocab.DISCLOSURE_HASHTAGS[lang])]]
      for j in range(3)] for lang in _LANGUAGES], dtype=np.int64)
_DISCLOSURE_COUNT = np.array([len(vocab.DISCLOSURE_HASHTAGS[lang]) for lang in _LANGUAGES],
                             dtype=np.int64)
assert not set(PLANTED_TAGS) & (set(_COMBOS_WITH_TAG) | set(_EXTRA_CODES)), "planted tag reused"
assert len(PLANTED_TAGS) < 127
_PLANTED_WORDS = 10  # 32-bit words per account in the "planted" stream


def _ascii_name(text: str) -> str:
    """``"O'Brien"`` -> ``"obrien"``, ``"García"`` -> ``"garcia"``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _twin_words(count: int) -> np.ndarray:
    """Four 32-bit words per index from a stream of the index alone (no seed): the twins are
    the same in every world, and a larger world extends a smaller one's."""
    digest = hashlib.shake_256(b"microscout-sandbox:twins").digest(16 * count)
    return np.frombuffer(digest, dtype="<u4").astype(np.int64).reshape(count, 4)


def _twin_of(index: int, words: Sequence[int]) -> _Twin | None:
    """The creator at ``index`` (about 6% of indexes), or None."""
    if (words[0] * 100) >> 32 >= TWIN_PERCENT:
        return None
    first = vocab.FIRST_NAMES[words[1] % len(vocab.FIRST_NAMES)]
    last = vocab.LAST_NAMES[(words[1] >> 8) % len(vocab.LAST_NAMES)]
    # two "_" (a generated username has at most one) and the index: unique, never generated
    key = f"{first}-{_ascii_name(last)}-{index}"
    link_kind = words[3] % 4
    link = "website" if link_kind == 2 else ("bio" if link_kind == 3 else None)
    username = key.replace("-", "_")
    line = None
    if link == "bio":
        lines = vocab.TWIN_LINK_LINES
        line = lines[(words[3] >> 8) % len(lines)].format(username=username)
    return _Twin(
        key=key,
        username=username,
        display_name=f"{first.capitalize()} {last}",
        niche=(words[2] * len(_NICHE_LIST)) >> 32,
        link=link,
        line=line,
    )


def _power(x: float, n: int) -> float:
    """``x ** n`` by squaring: multiplications only, so the same bits on every machine."""
    result = 1.0
    while n:
        if n & 1:
            result *= x
        x *= x
        n >>= 1
    return result

#: -ln(1 - q) in thousandths at 1,024 quantiles: exponential gaps by table, not np.log,
#: whose last bit varies with the CPU's SIMD path.
_EXP_TABLE = np.array(
    [round(-math.log(1.0 - (j + 0.5) / 1024) * 1000) for j in range(1024)], dtype=np.int64
)


#: Accounts per block of the vectorised post build (part of the data's definition: changing
#: it changes every world).
_BLOCK = 4096


def _uniform_words(seed: int, purpose: str, count: int) -> np.ndarray:
    """``count`` uniform 32-bit integers from SHAKE-256: the same bytes on every platform."""
    digest = hashlib.shake_256(f"microscout-sandbox:{seed}:{purpose}".encode()).digest(4 * count)
    return np.frombuffer(digest, dtype="<u4").astype(np.int64)


class _AccountList(Sequence):
    """``world.accounts``: a read-only sequence that builds :class:`Account` objects lazily."""

    def __init__(self, world: World) -> None:
        self._world = world

    def __len__(self) -> int:
        return self._world.size

    def __getitem__(self, item):  # type: ignore[override]
        if isinstance(item, slice):
            return [self._world.account(i) for i in range(*item.indices(self._world.size))]
        if item < 0:
            item += self._world.size
        if not 0 <= item < self._world.size:
            raise IndexError(item)
        return self._world.account(item)


class World:
    """A deterministic synthetic social network of ``accounts`` accounts.

    Built eagerly: each account's core numbers (followers, niche, language, username, activity)
    and the skeleton of every post (id and hashtags, a few bytes each, vectorised). Built on
    demand and cached: full :class:`Account` objects, :class:`Post` objects, each hashtag's
    post list.
    """

    def __init__(self, accounts: int = 500, seed: int = 42) -> None:
        if accounts < 1:
            raise ValueError("a world needs at least one account")
        if accounts > 65_536_000:
            raise ValueError("at most 65,536,000 accounts fit the id scheme")
        self.size = accounts
        self.seed = seed
        #: The sandbox day whose follower counts accounts show (0: today's; see set_day).
        self.day = 0
        # per-instance caches (lru_cache on methods would keep every World alive)
        self._account_cache_size = None if accounts <= 100_000 else 65_536
        self.account = lru_cache(maxsize=self._account_cache_size)(self._account)
        self.skeleton = lru_cache(maxsize=16_384)(self._skeleton)
        self.post = lru_cache(maxsize=65_536)(self._post)
        self._plan = lru_cache(maxsize=self._account_cache_size)(self._make_plan)
        self.accounts: Sequence[Account] = _AccountList(self)
        self._tag_index: dict[str, array] = {}
        self._tag_lock = threading.Lock()
        self._build_core()
        self._build_skeletons()
        self._build_planted_posts()

    def __repr__(self) -> str:
        return f"World(accounts={self.size}, seed={self.seed})"

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Account]:
        return iter(self.accounts)

    # -- accounts ----------------------------------------------------------------------

    def _build_core(self) -> None:
        """The numbers every account needs before any of its posts can be generated."""
        n = self.size
        rng = Random(_mix(self.seed, "accounts"))
        rnd = rng.random
        # Followers: log10 ~ Normal(3.5, 0.9), sampled by strata so that every tier a world
        # of its size should have is present (micro ~66%, nano ~29%, macro ~4.5%, mega ~0.3%).
        inv_cdf = NormalDist(3.5, 0.9).inv_cdf
        logs = [inv_cdf((i + 0.02 + 0.96 * rnd()) / n) for i in range(n)]
        for i in range(n - 1, 0, -1):
            j = int(rnd() * (i + 1))
            logs[i], logs[j] = logs[j], logs[i]

        self._followers = array("q")
        self._niche = array("B")
        self._language = array("B")
        self._created = array("q")  # creation time, epoch seconds
        self._last = array("q")  # newest post, epoch seconds
        self._post_count = array("B")
        self._interval = array("q")  # mean seconds between posts
        self._engagement = array("d")  # the account's mean engagement rate
        self._first_name = array("B")
        self._usernames: list[str] = []
        self._by_id: dict[str, int] = {}
        self._by_username: dict[str, int] = {}
        first_names = vocab.FIRST_NAMES
        n_niches = len(_NICHE_LIST)
        last_language = len(_LANGUAGE_CUM) - 1
        for i in range(n):
            followers = max(0, min(int(10 ** logs[i]), 80_000_000))
            niche_i = int(rnd() * n_niches)
            niche = _NICHE_LIST[niche_i]
            u = rnd()
            lang_i = 0
            while lang_i < last_language and u >= _LANGUAGE_CUM[lang_i]:
                lang_i += 1

            first_i = int(rnd() * len(first_names))
            first = first_names[first_i]
            word = niche.handle_words[int(rnd() * len(niche.handle_words))]
            style = rnd()
            if style < 0.35:
                username = f"{first}_{word}"
            elif style < 0.6:
                username = f"{first}{word}{int(rnd() * 100)}"
            elif style < 0.8:
                username = f"the{word}{first}"
            else:
                username = f"{word}with{first}"
            if rnd() < 0.12:  # Mastodon keeps the case people typed
                username = username[0].upper() + username[1:]
            while username.lower() in self._by_username:
                username = f"{username[:25]}{int(rnd() * 100_000)}"

            created_days = 20 + int(rnd() * 2_900)
            created = _EPOCH_S - created_days * _DAY + int(rnd() * _DAY)
            activity = rnd()
            if activity < 0.8:
                last_age = int(rnd() * 5 * _DAY)
            elif activity < 0.95:
                last_age = int((5 + rnd() * 55) * _DAY)
            else:
                last_age = int((60 + rnd() * 300) * _DAY)
            last_age = min(last_age, created_days * _DAY // 2)

            self._followers.append(followers)
            self._niche.append(niche_i)
            self._language.append(lang_i)
            self._created.append(created)
            self._last.append(_EPOCH_S - last_age)
            self._post_count.append(5 + int(rnd() * 36))
            self._interval.append(int(10 ** (4.3 + rnd() * 1.6)))
            self._engagement.append(
                BASE_ENGAGEMENT[tier_of(followers)] * _lognormal_noise(rng, 0.35)
            )
            self._first_name.append(first_i)
            self._usernames.append(username)
            self._by_username[username.lower()] = i
            self._by_id[str(snowflake(created, i))] = i

        # Twins replace the drawn username and niche afterwards, so that every draw above
        # (the renaming of colliding usernames included) is the one it was without them.
        self._twins: dict[int, _Twin] = {}
        twin_words = _twin_words(n)
        for i in np.flatnonzero((twin_words[:, 0] * 100) >> 32 < TWIN_PERCENT).tolist():
            twin = _twin_of(i, twin_words[i].tolist())
            assert twin is not None
            self._twins[i] = twin
            del self._by_username[self._usernames[i].lower()]
            self._usernames[i] = twin.username
            self._by_username[twin.username.lower()] = i
            self._niche[i] = twin.niche
        self._planted_words = _uniform_words(self.seed, "planted", _PLANTED_WORDS * n).reshape(
            n, _PLANTED_WORDS
        )

    def _account(self, index: int) -> Account:
        """The full account, generated from its own seed (so in any order, any process)."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        rng = _Draws(self.seed, "account", index)
        rnd = rng.random
        niche = _NICHE_LIST[self._niche[index]]
        language = _LANGUAGES[self._language[index]]
        username = self._usernames[index]
        first = vocab.FIRST_NAMES[self._first_name[index]]

        rtl = rnd() < 0.02
        hostile = rnd() < 0.012
        r = rnd()
        if rtl and r < 0.5:
            display_name = _pick(rng, vocab.RTL_NAMES)
        elif hostile and r < 0.5:
            display_name = _pick(rng, vocab.HOSTILE_TEXT)
        elif r < 0.02:
            display_name = ""
        elif r < 0.6:
            display_name = f"{first.capitalize()} {_pick(rng, vocab.LAST_NAMES)}"
        elif r < 0.8:
            display_name = f"{first.capitalize()} | {niche.roles[0]}"
        else:
            display_name = f"{first.capitalize()} {_pick(rng, niche.handle_words).capitalize()}"
        if rnd() < 0.18:
            display_name = f"{display_name} {_pick(rng, niche.emoji)}".strip()

        place = _pick(rng, vocab.PLACES[language])
        topic = niche.topic_en if language == "en" else niche.topics[language]
        template = _pick(rng, vocab.BIO_TEMPLATES[language])
        bio = template.format(role=_pick(rng, niche.roles), topic=topic, place=place)
        if language != "en" and rnd() < 0.5:
            bio = f"{_pick(rng, niche.roles)} · {bio}"  # bilingual bios are common
        if rnd() < 0.3:
            bio = f"{bio} {_pick(rng, niche.emoji)}"
        if rnd() < 0.35:
            tags = _sample(rng, niche.hashtags, 1 + int(rnd() * 2))
            bio = f"{bio}\n\n" + " ".join(f"#{t}" for t in tags)
        if rtl:
            bio = f"{bio}\n\n{_pick(rng, vocab.RTL_LINES)}"
        if hostile:
            bio = f"{_pick(rng, vocab.HOSTILE_TEXT)}\n\n{bio}"
        # planted lines (no draws from this stream): a twin's cross-link, an email or a
        # natural bio's confounder
        plan = self._plan(index)
        twin = self._twins.get(index)
        lines = [twin.line] if twin is not None and twin.line else []
        if plan.email_line:
            lines.append(plan.email_line)
        elif plan.bio_confounder:
            lines.append(plan.bio_confounder)
        if lines:
            bio = f"{bio}\n\n" + "\n".join(lines)

        fields: list[Field] = []
        if rnd() < 0.45:
            site = (
                f"https://{username.lower().replace('_', '-')}.example.com"
                if rnd() < 0.6
                else f"https://example.org/{username.lower()}"
            )
            fields.append(Field("Website", site))
        if rnd() < 0.3:
            fields.append(Field("Pronouns", _pick(rng, vocab.PRONOUNS)))
        if rnd() < 0.15:
            fields.append(Field("Location", place))

        if twin is not None:
            display_name = twin.display_name
            # only a twin with a website link names its domain (a drawn website would hold
            # its key too: the username's)
            fields = [f for f in fields if f.name != "Website"]
            if twin.link == "website":
                fields.insert(0, Field("Website", twin.website))

        post_count = self._post_count[index]
        discoverable_r = rnd()
        discoverable = True if discoverable_r < 0.9 else (None if discoverable_r < 0.95 else False)
        noindex = rnd() < 0.03
        hide_r = rnd()
        created = self._created[index]
        drawn_following = min(int(10 ** (2.5 + 0.5 * _normal(rng))), 7_500)
        if plan.following is not None:
            following = plan.following
        else:  # a natural account: never 1.5x its followers once it follows 1,000
            following = min(drawn_following,
                            max(self._followers[index], NATURAL_FOLLOWING_FLOOR))
        return Account(
            index=index,
            id=str(snowflake(created, index)),
            username=username,
            display_name=display_name,
            note=bio,
            language=language,
            niche=niche.name,
            followers=self.followers_at(index),
            following=following,
            statuses_count=post_count + int(10 ** (2.2 + 0.6 * _normal(rng))),
            created_at=datetime.fromtimestamp(created, tz=timezone.utc),
            last_status_at=datetime.fromtimestamp(self._last[index], tz=timezone.utc),
            post_count=post_count,
            locked=rnd() < 0.02,
            bot=rnd() < 0.01,
            discoverable=discoverable,
            indexable=bool(discoverable) and not noindex,
            noindex=noindex,
            hide_collections=None if hide_r < 0.7 else hide_r < 0.85,
            fields=tuple(fields),
            avatar_key=None if rnd() < 0.2 else f"{int(rnd() * 2**60):015x}",
            header_key=None if rnd() < 0.5 else f"{int(rnd() * 2**60):015x}",
            engagement=self._engagement[index] * plan.pod_factor,
            hostile=hostile,
            rtl=rtl,
        )

    def account_by_id(self, account_id: str) -> Account | None:
        index = self._by_id.get(account_id)
        return None if index is None else self.account(index)

    def account_by_username(self, username: str) -> Account | None:
        index = self._by_username.get(username.lower())
        return None if index is None else self.account(index)

    def followers(self, index: int) -> int:
        """An account's followers on the world's day without building the whole account."""
        return self.followers_at(index)

    def base_followers(self, index: int) -> int:
        """An account's followers on day 0, which its posts' engagement is drawn from (bought
        followers never engage)."""
        return self._followers[index]

    # -- days and planted truth --------------------------------------------------------

    def set_day(self, day: int) -> None:
        """Serve the follower counts of sandbox ``day`` (0, the default, is today's).

        Every platform reads ``Account.followers``, so every format follows. Post engagement
        does not change with the day.
        """
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= MAX_DAY:
            raise ValueError(f"the day must be a whole number from 0 to {MAX_DAY}, not {day!r}")
        if day == self.day:
            return
        self.day = day
        # a new cache, not cache_clear(): a request building an account for the old day
        # right now files it in the old cache, which nobody reads any more
        self.account = lru_cache(maxsize=self._account_cache_size)(self._account)

    def followers_at(self, index: int, day: int | None = None) -> int:
        """An account's followers on ``day`` (default: the world's day).

        Day 0 is the base count. On day d: base x (1 + trend)^d x (1 + noise_d), the trend a
        per-account rate between -0.2% and +1% a day, the noise under 0.45% either way, drawn
        per (account, day); plus, from a bought-followers account's ``spike_day`` on, its
        ``spike`` (25% to 80% of the base).
        """
        if day is None:
            day = self.day
        if not 0 <= day <= MAX_DAY:
            raise ValueError(f"the day must be from 0 to {MAX_DAY}, not {day}")
        if not 0 <= index < self.size:
            raise IndexError(index)
        base = self._followers[index]
        if day == 0:
            return base
        plan = self._plan(index)
        noise = ((_mix(self.seed, "follower-noise", index, day) >> 11) * 2.0**-53 - 0.5) * 0.009
        value = int(base * _power(1.0 + plan.trend, day) * (1.0 + noise) + 0.5)
        truth = plan.truth
        if truth.spike_day is not None and day >= truth.spike_day:
            value += truth.spike
        return value

    def truth(self, index: int) -> Planted:
        """The creator signals planted on account ``index`` (see :class:`Planted`)."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        return self._plan(index).truth

    def twin_link(self, index: int) -> str | None:
        """How a twin names its other accounts: ``"website"`` (``https://<key>.example.com``,
        also its Bluesky domain handle), ``"bio"`` (a bio line) or None."""
        twin = self._twins.get(index)
        return twin.link if twin is not None else None

    def bio_confounder(self, index: int) -> str | None:
        """The misleading line planted in a natural bio (``@brand ambassador``, ``DM for
        collabs``, a URL with ``/@name``), which holds no email; None for the others."""
        return self._plan(index).bio_confounder

    def _make_plan(self, index: int) -> _Plan:
        words = self._planted_words[index].tolist()
        u = [w * 2.0**-32 for w in words]
        base = self._followers[index]
        spike_day: int | None = None
        spike, pod, pod_factor, following = 0, False, 1.0, None
        # one draw decides among the exclusive patterns: spike, pod, mass-follow
        if u[0] < SPIKE_RATE:
            if base >= SPIKE_MIN_FOLLOWERS:
                spike_day = 1 + int(u[1] * 4)
                spike = int(base * (0.25 + 0.55 * u[2]) + 0.5)
        elif u[0] < SPIKE_RATE + POD_RATE:
            pod, pod_factor = True, 3.0 + 3.0 * u[3]
        elif (u[0] < SPIKE_RATE + POD_RATE + MASS_FOLLOW_SHARE
              and MASS_FOLLOW_RANGE[0] <= base <= MASS_FOLLOW_RANGE[1]):
            least, most = MASS_FOLLOW_LIMITS
            low, high = max(1.5, least / base), min(4.0, most / base)
            following = int(base * (low + (high - low) * u[3]) + 0.5)
            following = max(following, math.ceil(base * 1.5), least)
            following = min(following, math.floor(base * 4.0), most)
        sponsored = bool(self._sponsor_count[index])
        language = _LANGUAGES[self._language[index]]
        username = self._usernames[index].lower()
        email = email_line = bio_confounder = None
        r = words[7]
        if u[6] < EMAIL_RATE:
            local = username.replace("_", ".")
            if r % 4 == 0:
                local = f"hello.{local}"
            domain = vocab.EMAIL_DOMAINS[(r >> 2) % len(vocab.EMAIL_DOMAINS)]
            email = f"{local}@{domain}"
            collab, business = vocab.EMAIL_LABELS[language]
            style = (r >> 4) % 4
            if style == 0:
                email_line = f"📩 {collab}: {email}"
            elif style == 1:
                email_line = f"{business}: {email}"
            elif style == 2:
                head, _, tld = domain.rpartition(".")
                email_line = f"✉️ {local} [at] {head} [dot] {tld}"
            else:
                email_line = f"{business}: {local}(at){domain}"
        elif u[9] < BIO_CONFOUNDER_RATE:
            choices = vocab.BIO_CONFOUNDERS[language]
            bio_confounder = choices[(r >> 8) % len(choices)].format(
                brand=vocab.BRANDS[(r >> 12) % len(vocab.BRANDS)], username=username)
        twin = self._twins.get(index)
        truth = Planted(
            spike_day=spike_day,
            spike=spike,
            pod=pod,
            mass_follow=following is not None,
            sponsored=sponsored,
            email=email,
            twin=twin.key if twin is not None else None,
        )
        return _Plan(
            truth=truth,
            pod_factor=pod_factor,
            following=following,
            trend=-0.002 + 0.012 * u[8],
            email_line=email_line,
            bio_confounder=bio_confounder,
        )

    def niche(self, index: int) -> str:
        return _NICHE_LIST[self._niche[index]].name

    def username(self, index: int) -> str:
        return self._usernames[index]

    # -- posts -------------------------------------------------------------------------

    def _build_skeletons(self) -> None:
        """Id and hashtags of every post of every account, newest first within an account.

        Vectorised (a million posts at 50,000 accounts) with integer arithmetic only, on
        SHAKE-256 words, so the result is bit-for-bit the same on every machine. Done in
        blocks of accounts to keep the temporary arrays small.
        """
        counts = np.frombuffer(self._post_count, dtype=np.uint8).astype(np.int64)
        self._offsets = np.zeros(self.size + 1, dtype=np.int64)
        np.cumsum(counts, out=self._offsets[1:])
        ids, combos, extras = [], [], []
        for block, first in enumerate(range(0, self.size, _BLOCK)):
            last = min(first + _BLOCK, self.size)
            pid, combo, extra = self._skeleton_block(block, first, last)
            ids.append(pid)
            combos.append(combo)
            extras.append(extra)
        self._post_id = np.concatenate(ids)
        self._post_combo = np.concatenate(combos)
        self._post_extra = np.concatenate(extras)

    def _skeleton_block(self, block: int, first: int, last: int):
        counts = np.frombuffer(self._post_count, dtype=np.uint8)[first:last].astype(np.int64)
        total = int(counts.sum())
        starts = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        owner = np.repeat(np.arange(first, last, dtype=np.int64), counts)
        words = _uniform_words(self.seed, f"skeleton:{block}", 3 * total)
        u, v, w = words[:total], words[total : 2 * total], words[2 * total :]
        niche = np.frombuffer(self._niche, dtype=np.uint8).astype(np.int64)[owner]
        language = np.frombuffer(self._language, dtype=np.uint8).astype(np.int64)[owner]

        # Niche tags: 12% of posts have none, the rest 1, 2 or 3 (equally likely).
        span = 1 << 32
        none_below = int(0.12 * span)
        rest = span - none_below
        r = np.maximum(u - none_below, 0) * 3
        size = np.minimum(r // rest, 2)
        combo = _COMBO_BASE[niche, size] + (r - size * rest) * _COMBO_SIZE[niche, size] // rest
        combo[u < none_below] = -1

        # One extra tag: generic (8%), the language's own (15%), another niche's (4%).
        g_end, l_end, c_end = int(0.08 * span), int(0.23 * span), int(0.27 * span)
        n_generic, n_cross = len(vocab.GENERIC_HASHTAGS), len(_NICHE_LIST)
        lang_count = _LANGUAGE_TAG_COUNT[language]
        extra = np.full(total, -1, dtype=np.int64)
        generic = v < g_end
        extra[generic] = (v[generic] * n_generic) // g_end
        lang = (v >= g_end) & (v < l_end) & (lang_count > 0)
        extra[lang] = _LANGUAGE_TAG_BASE[language[lang]] + (
            (v[lang] - g_end) * lang_count[lang] // (l_end - g_end)
        )
        cross = (v >= l_end) & (v < c_end)
        other = (v[cross] - l_end) * n_cross // (c_end - l_end)
        extra[cross] = np.where(other == niche[cross], -1, _CROSS_BASE + other)

        # Times: back from the newest post by exponential gaps (at least 5 minutes), squeezed
        # when needed so that the oldest post stays after the account was created.
        interval = np.frombuffer(self._interval, dtype=np.int64)[first:last]
        newest = np.frombuffer(self._last, dtype=np.int64)[first:last]
        created = np.frombuffer(self._created, dtype=np.int64)[first:last]
        gaps = np.maximum(300, interval[owner - first] * _EXP_TABLE[w >> 22] // 1000)
        gaps[starts] = 0  # the newest post is at last_status_at (every account has posts)
        account_span = np.add.reduceat(gaps, starts)
        room = newest - created - 7_200
        scale_num = np.minimum(room, account_span)[owner - first]
        scale_den = np.maximum(account_span, 1)[owner - first]
        gaps = np.maximum(np.where(gaps > 0, 60, 0), gaps * scale_num // scale_den)
        elapsed = np.cumsum(gaps)
        elapsed -= np.repeat(elapsed[starts], counts)  # gaps[starts] == 0
        t = newest[owner - first] - elapsed

        # Mastodon-style snowflake ids (see snowflake()), vectorised.
        ms = ((owner >> 16) + ((t * 2_654_435_761) >> 8)) % 1000
        pid = (((t * 1000) + ms) << 16) | (owner & 0xFFFF)
        return pid, combo.astype(np.int16), extra.astype(np.int16)

    def _build_planted_posts(self) -> None:
        """Which posts are paid partnerships (and how they disclose it) and which carry a
        confounder, for every post at once (vectorised, integers only, like the skeleton).

        A sponsored account (6.5%) has exactly k of its n posts sponsored, k between
        ceil(0.3 n) and floor(0.6 n); the k are the ones with the smallest draws. Among the
        posts that are not sponsored, 3% carry a confounder. Codes in ``_post_kind``: 0
        nothing, 1 flag, 2 hashtag, 3 phrase, 4 flag + hashtag, 5 confounder hashtag, 6
        confounder line; ``_post_ptag``: the planted hashtag's code in :data:`PLANTED_TAGS`.
        """
        n, total = self.size, len(self._post_id)
        counts = np.diff(self._offsets)
        words = self._planted_words
        chosen = (words[:, 4] * 1000) >> 32 < SPONSORED_PER_MILLE
        least, most = (3 * counts + 9) // 10, (6 * counts) // 10
        self._sponsor_count = np.where(
            chosen, least + ((words[:, 5] * (most - least + 1)) >> 32), 0
        )
        owner = np.repeat(np.arange(n, dtype=np.int64), counts)
        draws = _uniform_words(self.seed, "planted-posts", 2 * total)
        rank_key, kind_word = draws[:total], draws[total:]
        sponsored = np.zeros(total, dtype=bool)
        in_feed = np.flatnonzero(chosen[owner])  # posts of sponsored accounts, grouped
        if len(in_feed):
            order = in_feed[np.lexsort((rank_key[in_feed], owner[in_feed]))]
            rank = np.arange(len(order)) - np.searchsorted(owner[order], owner[order])
            sponsored[order] = rank < self._sponsor_count[owner[order]]
        percent = (kind_word * 100) >> 32
        low = kind_word & 0xFFFF
        kind = np.zeros(total, dtype=np.int8)
        kind[sponsored & (percent < 25)] = _FLAG
        kind[sponsored & (percent >= 25) & (percent < 55)] = _HASHTAG
        kind[sponsored & (percent >= 55) & (percent < 85)] = _PHRASE
        kind[sponsored & (percent >= 85)] = _FLAG_HASHTAG
        confound = ~sponsored & (percent < POST_CONFOUNDER_PERCENT)
        confound_tag = confound & (low % 10 < 4)
        kind[confound_tag] = _CONFOUND_TAG
        kind[confound & ~confound_tag] = _CONFOUND_TEXT
        ptag = np.full(total, -1, dtype=np.int8)
        hashtag = (kind == _HASHTAG) | (kind == _FLAG_HASHTAG)
        language = np.frombuffer(self._language, dtype=np.uint8).astype(np.int64)[owner]
        variant = low >> 4
        ptag[hashtag] = _DISCLOSURE_TABLE[
            language[hashtag], variant[hashtag] % _DISCLOSURE_COUNT[language[hashtag]]
        ]
        ptag[confound_tag] = _CONFOUND_TAG_BASE + variant[confound_tag] % len(
            vocab.CONFOUNDER_HASHTAGS
        )
        self._post_kind = kind
        self._post_ptag = ptag

    def _skeleton(self, index: int) -> tuple[tuple[int, tuple[str, ...]], ...]:
        """(post id, tags) of an account's posts, oldest first (a planted hashtag last)."""
        lo, hi = int(self._offsets[index]), int(self._offsets[index + 1])
        out = []
        for pid, combo, extra, planted in zip(
            self._post_id[lo:hi].tolist(),
            self._post_combo[lo:hi].tolist(),
            self._post_extra[lo:hi].tolist(),
            self._post_ptag[lo:hi].tolist(),
            strict=True,
        ):
            tags = _COMBOS[combo] if combo >= 0 else ()
            if extra >= 0:
                tags = (*tags, _EXTRAS[extra])
            if planted >= 0:
                tags = (*tags, PLANTED_TAGS[planted])
            out.append((pid, tags))
        out.reverse()
        return tuple(out)

    def post_ids(self, account: Account | int) -> list[int]:
        """An account's post ids, oldest first (ascending)."""
        index = account if isinstance(account, int) else account.index
        return [pid for pid, _ in self.skeleton(index)]

    def posts(self, account: Account | int) -> list[Post]:
        """An account's posts, newest first."""
        index = account if isinstance(account, int) else account.index
        return [self.post(pid) for pid, _ in reversed(self.skeleton(index))]

    def post_by_id(self, post_id: str | int) -> Post | None:
        try:
            pid = int(post_id)
        except (TypeError, ValueError):
            return None
        if pid <= 0 or pid >= 1 << 63 or snowflake_index(pid) >= self.size:
            return None
        try:
            return self.post(pid)
        except KeyError:
            return None

    def _post(self, pid: int) -> Post:
        index = snowflake_index(pid)
        skeleton = self.skeleton(index)
        k = bisect_left(skeleton, pid, key=itemgetter(0))
        if k == len(skeleton) or skeleton[k][0] != pid:
            raise KeyError(pid)
        tags = all_tags = skeleton[k][1]
        position = int(self._offsets[index + 1]) - 1 - k
        planted_kind = int(self._post_kind[position])
        planted_tag = None
        if self._post_ptag[position] >= 0:  # written after the others, without a draw
            planted_tag, tags = tags[-1], tags[:-1]
        niche = _NICHE_LIST[self._niche[index]]
        username = self._usernames[index]
        rng = _Draws(self.seed, "post", pid)

        language = _LANGUAGES[self._language[index]] if rng.random() < 0.85 else "en"
        if language == "en":
            sentence = _pick(rng, niche.lines)
        else:
            sentence = _pick(rng, vocab.POST_TEMPLATES[language]).format(
                topic=niche.topics[language]
            )
        if rng.random() < 0.4:
            sentence = f"{sentence} {_pick(rng, niche.emoji)}"
        mentions: list[int] = []
        if self.size > 1 and rng.random() < 0.08:
            other = int(rng.random() * self.size)
            if other != index:
                mentions.append(other)
                sentence = f"{sentence} Thanks @{self._usernames[other]}!"
        more = rng.random() < 0.05
        if planted_kind == _PHRASE:
            phrase, first = self._disclosure_phrase(pid, index)
            sentence = f"{phrase}. {sentence}" if first else f"{sentence}\n{phrase}."
        elif planted_kind == _CONFOUND_TEXT:
            sentence = f"{sentence} {self._confounder_line(pid, language)}"
        if more:
            sentence = f"{sentence}\nMore at https://example.com/{username.lower()}/{k}"
        shown = [t.capitalize() if rng.random() < 0.15 else t for t in tags]
        if tags and rng.random() < 0.4:
            # first tag inline ("... my #vegan dinner ..."), the rest trailing
            text = f"{sentence} #{shown[0]}"
            if len(shown) > 1:
                text += "\n\n" + " ".join(f"#{t}" for t in shown[1:])
        elif tags:
            text = f"{sentence}\n\n" + " ".join(f"#{t}" for t in shown)
        else:
            text = sentence
        if planted_tag is not None:
            text = f"{text} #{planted_tag}" if tags else f"{text}\n\n#{planted_tag}"

        media: list[Media] = []
        if rng.random() < niche.media_rate:
            for m in range(1 + int(rng.random() ** 3 * 4)):
                kind_r = rng.random()
                kind = "image" if kind_r < 0.87 else ("video" if kind_r < 0.97 else "gifv")
                landscape = rng.random() < 0.6
                width, height = (1600, 1200) if landscape else (1080, 1350)
                media.append(
                    Media(
                        id=str(pid + m + 1),
                        kind=kind,
                        width=width,
                        height=height,
                        description=(
                            _pick(rng, vocab.MEDIA_DESCRIPTIONS) if rng.random() < 0.6 else None
                        ),
                        key=f"{int(rng.random() * 2**60):015x}",
                    )
                )

        # Engagement: (favourites + replies) / followers averages the account's rate.
        # Bought followers never engage: the base count, not the day's. A pod inflates the
        # engagement and its replies' share.
        plan = self._plan(index)
        expected = (
            self._followers[index] * self._engagement[index] * _lognormal_noise(rng, 0.5)
            * plan.pod_factor
        )
        share_draw = rng.random()
        reply_share = 0.35 + share_draw * 0.2 if plan.truth.pod else 0.05 + share_draw * 0.1
        favourites = _stochastic_round(rng, expected * (1 - reply_share))
        replies = _stochastic_round(rng, expected * reply_share)
        reblogs = _stochastic_round(rng, favourites * (0.08 + rng.random() * 0.15))
        quotes = _stochastic_round(rng, reblogs * 0.05)

        created_at = snowflake_time(pid)
        spoiler = ""
        if rng.random() < 0.03:
            spoiler = _pick(rng, vocab.SPOILERS)
        edited_at = None
        if rng.random() < 0.05:
            edited_at = created_at + timedelta(seconds=30 + int(rng.random() * 3_000))
        return Post(
            id=str(pid),
            account_index=index,
            created_at=created_at,
            text=text,
            tags=all_tags,
            mentions=tuple(mentions),
            favourites=favourites,
            reblogs=reblogs,
            replies=replies,
            quotes=quotes,
            media=tuple(media),
            language=language,
            sensitive=bool(spoiler) or rng.random() < 0.02,
            spoiler_text=spoiler,
            edited_at=edited_at,
            application=_pick(rng, vocab.APPLICATIONS),
        )

    def _post_position(self, post_id: str | int) -> int | None:
        """Where a post's skeleton entries are in the post arrays (None: no such post)."""
        try:
            pid = int(post_id)
        except (TypeError, ValueError):
            return None
        if pid <= 0 or pid >= 1 << 63:
            return None
        index = snowflake_index(pid)
        if index >= self.size:
            return None
        skeleton = self.skeleton(index)
        k = bisect_left(skeleton, pid, key=itemgetter(0))
        if k == len(skeleton) or skeleton[k][0] != pid:
            return None
        return int(self._offsets[index + 1]) - 1 - k

    def post_sponsored(self, post_id: str | int) -> bool:
        """Whether a post is a paid partnership (the truth, however it discloses it)."""
        position = self._post_position(post_id)
        return position is not None and _FLAG <= int(self._post_kind[position]) <= _FLAG_HASHTAG

    def post_disclosure(self, post_id: str | int) -> str | None:
        """How a sponsored post discloses: ``"flag"`` (the platform's paid-partnership flag
        only: undisclosed in the formats without one), ``"hashtag"`` (a disclosure hashtag
        in the account's language, last in the text and the tags), ``"phrase"`` ("Paid
        partnership with @brand" and the like, in the account's language) or
        ``"flag+hashtag"``; None for a post that is not sponsored."""
        position = self._post_position(post_id)
        if position is None:
            return None
        kind = int(self._post_kind[position])
        return DISCLOSURES[kind] if kind <= _FLAG_HASHTAG else None

    def post_flagged(self, post_id: str | int) -> bool:
        """Whether the formats with a paid-partnership flag set it on this post."""
        return self.post_disclosure(post_id) in ("flag", "flag+hashtag")

    def post_brand(self, post_id: str | int) -> str | None:
        """The brand (its @handle, no "@") a sponsored post is paid by; None otherwise."""
        if not self.post_sponsored(post_id):
            return None
        return _pick(_Draws(self.seed, "planted-post", int(post_id)), vocab.BRANDS)

    def post_confounder(self, post_id: str | int) -> str | None:
        """The confounder planted in a natural post's text: ``"#adventure"`` (a hashtag that
        starts like ``#ad``) or a line using "sponsor", "add", "partner", "publi...",
        "Anzeige", "Kooperation" in a sense that is no disclosure; None for the others."""
        position = self._post_position(post_id)
        if position is None:
            return None
        kind = int(self._post_kind[position])
        if kind == _CONFOUND_TAG:
            return "#" + PLANTED_TAGS[int(self._post_ptag[position])]
        if kind == _CONFOUND_TEXT:
            post = self.post(int(post_id))
            return self._confounder_line(post.id_int, post.language)
        return None

    def _disclosure_phrase(self, pid: int, index: int) -> tuple[str, bool]:
        """(the disclosure phrase in the account's language, whether it opens the text)."""
        rng = _Draws(self.seed, "planted-post", pid)
        brand = _pick(rng, vocab.BRANDS)  # the first draw: see post_brand
        phrases = vocab.DISCLOSURE_PHRASES[_LANGUAGES[self._language[index]]]
        return _pick(rng, phrases).format(brand=brand), rng.random() < 0.5

    def _confounder_line(self, pid: int, language: str) -> str:
        rng = _Draws(self.seed, "planted-post", pid)
        return _pick(rng, vocab.CONFOUNDER_LINES[language])

    # -- hashtags ----------------------------------------------------------------------

    def tag_post_ids(self, tag: str) -> array:
        """Ids of the posts carrying ``tag``, ascending (oldest first).

        The tag is matched case-insensitively after Unicode NFC, as Mastodon does. Each
        tag's list is computed on first use and kept.
        """
        tag = unicodedata.normalize("NFC", tag).lower()
        ids = self._tag_index.get(tag)
        if ids is None:
            mask = np.zeros(len(self._post_id), dtype=bool)
            combos = _COMBOS_WITH_TAG.get(tag)
            if combos is not None:
                mask |= np.isin(self._post_combo, combos)
            for code in _EXTRA_CODES.get(tag, ()):
                mask |= self._post_extra == code
            planted = _PLANTED_CODES.get(tag)
            if planted is not None:
                mask |= self._post_ptag == planted
            ids = array("q", np.sort(self._post_id[mask]).tolist())
            with self._tag_lock:
                self._tag_index[tag] = ids
        return ids

    def posts_with_tag(self, tag: str) -> list[Post]:
        """Posts carrying ``tag``, newest first, as the tag timeline serves them."""
        return [self.post(pid) for pid in reversed(self.tag_post_ids(tag))]

    def tag_authors(self, tag: str) -> set[int]:
        """Indices of the accounts that posted with ``tag``."""
        return {snowflake_index(pid) for pid in self.tag_post_ids(tag)}

    def tags(self) -> dict[str, int]:
        """Every hashtag in use with its number of posts."""
        used = {tag for code in np.unique(self._post_combo) if code >= 0 for tag in _COMBOS[code]}
        used.update(_EXTRAS[code] for code in np.unique(self._post_extra) if code >= 0)
        used.update(PLANTED_TAGS[code] for code in np.unique(self._post_ptag) if code >= 0)
        return {tag: len(self.tag_post_ids(tag)) for tag in sorted(used)}

    @property
    def post_total(self) -> int:
        return len(self._post_id)
