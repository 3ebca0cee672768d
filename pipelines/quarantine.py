"""One place that counts quarantined input, so every reason shows up the same way in stats."""

from __future__ import annotations

from typing import Any

from crawler.items import RejectedItem
from crawler.values import to_jsonable

PREFIX = "microscout/quarantined"


def count(stats, reason: str) -> None:
    stats.inc_value(f"{PREFIX}/{reason}")
    stats.inc_value(f"{PREFIX}/total")


def reject(stats, reason: str, item: Any, detail: str | None = None) -> RejectedItem:
    """Turn an item into a RejectedItem (its fields kept as the payload) and count it."""
    count(stats, reason)
    fields = item if isinstance(item, dict) else vars(item) if hasattr(item, "__dict__") else {}
    return RejectedItem(
        reason=reason,
        detail=detail,
        platform=fields.get("platform"),
        payload=to_jsonable(item),
        source_url=fields.get("source_url"),
        item_type=type(item).__name__,
    )
