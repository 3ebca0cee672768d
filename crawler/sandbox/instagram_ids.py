"""What the Instagram sandbox's web pages and Graph API share: post ids as shortcodes (Instagram's
base-64 alphabet) and the stable draw that picks each account's traits."""

from __future__ import annotations

import hashlib

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def shortcode(media_id: int | str) -> str:
    """A media id in Instagram's URL alphabet: ``2837357660084836649`` -> ``CdgUcJGFxkp``."""
    number, out = int(media_id), ""
    while number:
        number, digit = divmod(number, 64)
        out = ALPHABET[digit] + out
    return out or ALPHABET[0]


def media_id_of(code: str) -> int | None:
    """The inverse of :func:`shortcode` (None for a code with other characters)."""
    number = 0
    for char in code:
        digit = ALPHABET.find(char)
        if digit < 0:
            return None
        number = number * 64 + digit
    return number


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by the parts (stable across processes)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
