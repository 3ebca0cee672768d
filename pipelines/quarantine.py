"""One place that counts quarantined input, so every reason shows up the same way in stats."""

from __future__ import annotations

from typing import Any

from crawler.items import RejectedItem

PREFIX = "microscout/quarantined"


def count(stats, reason: str) -> None:
    stats.inc_value(f"{PREFIX}/{reason}")
    stats.inc_value(f"{PREFIX}/total")


def reject(stats, reason: str, item: Any, detail: str | None = None) -> RejectedItem:
    """Turn an item into a RejectedItem (its fields kept as the payload) and count it."""
    from pipelines.warehouse import jsonable

    count(stats, reason)
    return RejectedItem(
        reason=reason,
        detail=detail,
        platform=getattr(item, "platform", None) if not isinstance(item, dict) else item.get("platform"),
        payload=jsonable(item),
        source_url=getattr(item, "source_url", None) if not isinstance(item, dict) else item.get("source_url"),
        item_type=type(item).__name__,
    )
