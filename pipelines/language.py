"""A creator's language(s) from bio and captions, with Lingua (made for short texts).

Each text (bio, each caption) is stripped of links, hashtags and @mentions and, when at least
``MIN_LETTERS`` letters remain, given one language by Lingua's detector over
``MICROSCOUT_LANGUAGES`` (20 languages by default). A text counts by its letters (a caption of
two words counts less than a bio of twenty), so ``languages`` is each language's share of the
letters read and ``language`` the largest share. A text whose best language has a confidence
under ``MIN_CONFIDENCE`` is left out. A post's language declared by the platform (Mastodon's
``language``) is not used: it is the poster's interface default more often than not.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

DEFAULT_LANGUAGES = ("en", "es", "pt", "fr", "de", "it", "nl", "pl", "tr", "ru", "uk", "ar", "hi",
                     "id", "ja", "ko", "zh", "th", "vi", "sv")
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.5
#: A language that holds less of the letters than this is not listed in ``languages``.
MIN_SHARE = 0.15
_NOISE = re.compile(r"(?:https?://|www\.)\S+|[#＃@]\w+(?:@[\w.]+)?", re.IGNORECASE)
_LOCK = threading.Lock()


class LanguageUnavailable(RuntimeError):
    """lingua-language-detector is missing or a language code is unknown."""


ACCURACY = ("high", "low")


@functools.lru_cache(maxsize=4)
def detector(codes: tuple[str, ...] = DEFAULT_LANGUAGES, accuracy: str = "high") -> Any:
    """Lingua's detector for these ISO 639-1 codes (built once per process, codes and accuracy).

    ``high`` (the default) reads trigrams up to 5-grams: Lingua's mode for short texts, about 2 s
    to load. ``low`` reads trigrams only: loads at once, less sure on texts of a few words."""
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise LanguageUnavailable("lingua-language-detector is not installed") from exc
    unknown = [code for code in codes if not hasattr(IsoCode639_1, code.upper())]
    if unknown:
        raise LanguageUnavailable(f"unknown ISO 639-1 code(s): {', '.join(unknown)}")
    isos = [getattr(IsoCode639_1, code.upper()) for code in codes]
    if len(isos) < 2:
        raise LanguageUnavailable("MICROSCOUT_LANGUAGES needs at least two languages")
    return LanguageDetectorBuilder.from_iso_codes_639_1(*isos).build()


def clean(text: str) -> str:
    return " ".join(_NOISE.sub(" ", text).split())


def letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def detect(text: str, codes: tuple[str, ...] = DEFAULT_LANGUAGES,
           accuracy: str = "high") -> tuple[str | None, float]:
    """(language, confidence) of one text; (None, 0.0) when too short or unsure."""
    cleaned = clean(text)
    if letters(cleaned) < MIN_LETTERS:
        return None, 0.0
    with _LOCK:  # one detector serves the pipeline and its worker threads
        values = detector(codes, accuracy).compute_language_confidence_values(cleaned)
    if not values or values[0].value < MIN_CONFIDENCE:
        return None, 0.0
    return values[0].language.iso_code_639_1.name.lower(), float(values[0].value)


def languages_of(texts: Iterable[str | None], codes: Sequence[str] = DEFAULT_LANGUAGES,
                 accuracy: str = "high") -> dict[str, float]:
    """Language -> share of the letters of the texts it was found in (shares >= MIN_SHARE)."""
    weight: dict[str, int] = {}
    total = 0
    for text in texts:
        if not text:
            continue
        language, _ = detect(text, tuple(codes), accuracy)
        if language is None:
            continue
        n = letters(clean(text))
        weight[language] = weight.get(language, 0) + n
        total += n
    if not total:
        return {}
    shares = {lang: round(n / total, 3) for lang, n in weight.items() if n / total >= MIN_SHARE}
    return dict(sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])))


def parse_codes(value: Any) -> tuple[str, ...]:
    """MICROSCOUT_LANGUAGES: a comma-separated string or a list; empty means the default."""
    if not value:
        return DEFAULT_LANGUAGES
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(code.strip().lower() for code in items if code.strip()))
