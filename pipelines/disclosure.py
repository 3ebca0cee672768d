"""Sponsored posts: the format's own paid-partnership flag, or a disclosure in the caption.

A post is sponsored when its format flags it (Instagram ``is_paid_partnership`` or sponsor tags,
TikTok ``isAd``, YouTube ``paidProductPlacementDetails``: the parsers put it in
``PostItem.platform_sponsored``) or when its text discloses it in one of the main languages:

* a disclosure hashtag: #ad #ads #sponsored #paidpartnership #partner #spon #advertisement (en),
  #publi #publicidad #patrocinado (es), #publicidade #parceria (pt), #partenariat #sponsorise
  (fr), #anzeige #werbung (de), #adv #pubblicita (it), #reclame #gesponsord (nl);
* a disclosure phrase: "paid partnership with", "sponsored by", "in (paid) collaboration with",
  "en colaboración con", "em parceria com", "en partenariat avec", "in Kooperation mit",
  "bezahlte Partnerschaft mit", ...

Only whole hashtags count (#adventure, #adidas and #adorable are not #ad), and a negated
disclosure does not ("not an ad", #notsponsored, "keine Werbung", "unbezahlte Werbung").
"""

from __future__ import annotations

import re

from pipelines.nichetext import HASHTAG, fold

#: Disclosure hashtags, folded (lower case, accents dropped).
HASHTAGS = frozenset({
    "ad", "ads", "sponsored", "sponsor", "paidpartnership", "paidpromotion", "partner", "spon",
    "advertisement", "advert", "paidad", "brandpartner",
    "publi", "publicidad", "patrocinado", "patrocinio", "colaboracionpagada",
    "publicidade", "parceria", "parceriapaga", "publipost",
    "partenariat", "sponsorise", "collaborationcommerciale", "partenariatremunere",
    "anzeige", "werbung", "bezahltepartnerschaft", "sponsoredpost",
    "adv", "pubblicita", "sponsorizzato",
    "reclame", "gesponsord", "advertentie",
})

_PHRASES = (
    r"paid partnership with", r"paid partnership", r"sponsored by", r"in (?:paid )?collaboration with",
    r"thanks to @\w+ for sponsoring", r"this (?:post|video) is sponsored",
    r"en colaboracion con", r"patrocinado por", r"publicidad de", r"colaboracion pagada",
    r"em parceria com", r"patrocinado pela?", r"publicidade paga",
    r"en partenariat avec", r"sponsorise par", r"collaboration commerciale",
    r"in kooperation mit", r"bezahlte partnerschaft mit", r"gesponsert von", r"werbung fur",
    r"in collaborazione con", r"sponsorizzato da",
)
PHRASE = re.compile(r"(?<!\w)(?:" + "|".join(_PHRASES) + r")(?!\w)")
#: Negations that cancel a disclosure anywhere in the text.
NEGATION = re.compile(
    r"(?<!\w)(?:not (?:an? )?(?:ad|advert|sponsored|sponsorship|paid)|no (?:es )?publicidad|"
    r"nao e publicidade|pas sponsorise|keine werbung|unbezahlte werbung|unpaid|#?notsponsored|"
    r"#?notanad|#?nonsponsored|#?noad)(?!\w)")


def text_evidence(text: str | None, hashtags: list[str] | None = None) -> str | None:
    """The disclosure a post makes ("#ad", "paid partnership with"), or None: its text's tags,
    then its phrases, then ``hashtags`` (tags a format lists apart from the text)."""
    folded = fold(text) if text else ""
    if NEGATION.search(folded):
        return None
    for match in HASHTAG.finditer(folded):
        if match.group(1) in HASHTAGS:
            return f"#{match.group(1)}"
    phrase = PHRASE.search(folded)
    if phrase:
        return phrase.group(0)
    listed = next((tag for tag in map(fold, hashtags or ()) if tag in HASHTAGS), None)
    return f"#{listed}" if listed else None


def post_sponsorship(platform: str | None, text: str | None, hashtags: list[str] | None,
                     flag: bool | None) -> tuple[bool | None, str | None]:
    """(sponsored, evidence) for one post.

    ``flag`` is the format's own field; ``hashtags`` the post's normalised tags (some formats
    list tags apart from the text). None when there is nothing to judge (no text, no flag).
    """
    if flag:
        return True, f"{platform or 'platform'}:flag"
    evidence = text_evidence(text, hashtags)
    if evidence:
        return True, evidence
    if flag is None and not text and not hashtags:
        return None, None
    return False, None
