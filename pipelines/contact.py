"""Contact and links from profiles: a business email, the creator's website, links to other platforms.

* **Email**: the format's own field (Instagram ``business_email``) first, else the first address
  written in the bio, also when obfuscated ("name [at] domain [dot] com", "name(at)domain.com").
  A fediverse address ("@anna@mastodon.social") is a handle, not an email.
* **Website**: the first of external URL, profile-field links and bio links whose host is not a
  social platform (nor the account's own instance).
* **Cross-links**: links and mentions that name an account on another platform
  (``youtube.com/@name``, ``tiktok.com/@name``, ``bsky.app/profile/name``, ``instagram.com/name``,
  ``https://instance/@name``, "TikTok: @name").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from pipelines.nichetext import URL

_LOCAL = r"[A-Za-z0-9][A-Za-z0-9._%+-]*"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
EMAIL = re.compile(rf"(?<![\w.@/+%-])({_LOCAL})@({_DOMAIN})(?![\w@-]|\.[A-Za-z0-9])")
_AT = r"\s*[\[\(\{<]\s*(?:at|@)\s*[\]\)\}>]\s*"
_DOT = r"\s*(?:[\[\(\{<]\s*(?:dot|punto|ponto|point|punkt)\s*[\]\)\}>]|\.)\s*"
OBFUSCATED = re.compile(rf"(?<![\w.@/+%-])({_LOCAL}){_AT}([A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)+)",
                        re.IGNORECASE)
_DOT_MARK = re.compile(_DOT, re.IGNORECASE)
#: Endings of file names that look like domains ("logo@2x.png").
_NOT_TLD = frozenset({"png", "jpg", "jpeg", "gif", "webp", "svg", "mp4", "mov", "heic"})

#: Hosts of social platforms (and their short links): never a creator's own website.
SOCIAL = ("instagram.com", "instagr.am", "tiktok.com", "youtube.com", "youtu.be", "bsky.app",
          "bsky.social", "twitter.com", "x.com", "facebook.com", "fb.com", "threads.net",
          "twitch.tv", "snapchat.com", "pinterest.com", "t.me", "wa.me")

_SKIP_IG = frozenset({"p", "reel", "reels", "explore", "stories", "tv", "accounts", "about", "legal"})
_HANDLE = r"[A-Za-z0-9_][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z0-9_]"
#: "TikTok: @name", "YouTube @name", "find me on Instagram @name", "IG: name".
MENTION = re.compile(
    rf"(?i)(?<!\w)(instagram|insta|ig|tiktok|youtube|yt|bluesky|bsky)\s*(?::|-|–|—|→)?\s*@({_HANDLE})")
_PLATFORM_WORD = {"instagram": "instagram", "insta": "instagram", "ig": "instagram",
                  "tiktok": "tiktok", "youtube": "youtube", "yt": "youtube", "bluesky": "bluesky",
                  "bsky": "bluesky"}
_SCHEMELESS = re.compile(
    r"(?i)(?<![\w/.])(?:www\.|m\.)?(?:instagram\.com|tiktok\.com|youtube\.com|bsky\.app)/\S+")


def _clean_domain(domain: str) -> str | None:
    domain = domain.lower().strip(".")
    return None if domain.rsplit(".", 1)[-1] in _NOT_TLD else domain


def emails_in(text: str | None) -> list[str]:
    """Email addresses written in ``text``, in order, lower-cased domain, de-obfuscated."""
    if not text:
        return []
    found: list[tuple[int, str]] = []
    for match in EMAIL.finditer(text):
        domain = _clean_domain(match.group(2))
        if domain:
            found.append((match.start(), f"{match.group(1)}@{domain}"))
    for match in OBFUSCATED.finditer(text):
        domain = _clean_domain(_DOT_MARK.sub(".", match.group(2)))
        if domain and "." in domain:
            found.append((match.start(), f"{match.group(1)}@{domain}"))
    out: list[str] = []
    for _, address in sorted(found):
        if address.lower() not in (a.lower() for a in out):
            out.append(address)
    return out


def find_email(field: str | None, bio: str | None) -> str | None:
    """The contact email: the format's own field, else the first one in the bio."""
    if field and EMAIL.fullmatch(field.strip()):
        return field.strip()
    found = emails_in(bio)
    return found[0] if found else None


def host_of(url: str) -> str:
    if not re.match(r"(?i)https?://", url):
        url = "https://" + url
    try:
        return (urlsplit(url).hostname or "").lower().removeprefix("www.")
    except ValueError:
        return ""


def _on(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def urls_in(text: str | None) -> list[str]:
    if not text:
        return []
    return [m.group(0).rstrip(".,;:!?)]}»\"'") for m in URL.finditer(text)]


def find_website(external_url: str | None, links: Iterable[str], bio: str | None,
                 own_hosts: Iterable[str] = ()) -> str | None:
    """The first link off social platforms and the account's own hosts."""
    skip = (*SOCIAL, *(h.lower().removeprefix("www.") for h in own_hosts if h))
    for url in (external_url, *links, *urls_in(bio)):
        if not url:
            continue
        host = host_of(url)
        if host and "." in host and not _on(host, skip):
            return url if re.match(r"(?i)https?://", url) else "https://" + url
    return None


def account_of_url(url: str) -> tuple[str, str] | None:
    """(platform, handle) an account URL names; platform "fediverse" for ``https://host/@user``."""
    if not re.match(r"(?i)https?://", url):
        url = "https://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        return None
    first = segments[0]
    if host == "instagram.com" and first.lower() not in _SKIP_IG:
        return "instagram", first.lower()
    if host == "tiktok.com" and first.startswith("@") and len(first) > 1:
        return "tiktok", first[1:].lower()
    if host == "youtube.com":
        if first.startswith("@") and len(first) > 1:
            return "youtube", first[1:].lower()
        if first in ("channel", "c", "user") and len(segments) > 1:
            return "youtube", segments[1] if first == "channel" else segments[1].lower()
        return None
    if host == "bsky.app" and first == "profile" and len(segments) > 1:
        return "bluesky", segments[1].lower()
    if host and not _on(host, SOCIAL) and first.startswith("@") and len(first) > 1:
        return "fediverse", f"{first[1:].lower()}@{host}"
    return None


def cross_links(external_url: str | None, links: Iterable[str], bio: str | None) -> list[tuple[str, str]]:
    """Accounts on other platforms the profile points at: (platform, handle), in order, unique."""
    found: list[tuple[str, str]] = []
    urls = [u for u in (external_url, *links) if u] + urls_in(bio)
    urls += [m.group(0) for m in _SCHEMELESS.finditer(bio or "")]
    for url in urls:
        account = account_of_url(url)
        if account and account not in found:
            found.append(account)
    for match in MENTION.finditer(bio or ""):
        account = (_PLATFORM_WORD[match.group(1).lower()], match.group(2).lower())
        if account not in found:
            found.append(account)
    return found
