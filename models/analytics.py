"""After a run: audience-quality signals, creators across platforms and lookalikes.

:func:`refresh` computes the three for the accounts a run loaded, each in its own transaction so
one that fails leaves the others written. ``microscout signals refresh`` runs it for any run (or
every account) by hand; a crawl runs it when it closes (``MICROSCOUT_SIGNALS``, on by default).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select

from models import creators, signals, similar
from models.tables import Profile

logger = logging.getLogger(__name__)

#: Lookalikes kept per micro-influencer in similar_accounts.
SIMILAR_K = 20


def refresh(engine: Any, run_id: int, profile_ids: list[int] | None = None) -> dict[str, int]:
    """Signals of the run's accounts (``profile_ids``: these instead), creators, lookalikes."""
    with engine.begin() as conn:
        ids = signals.run_profiles(conn, run_id) if profile_ids is None else profile_ids
        counts = {"signals": signals.refresh(conn, run_id, ids)}
    with engine.begin() as conn:
        counts["creators"] = creators.rebuild(conn)
    with engine.begin() as conn:
        counts["lookalikes"] = similar.refresh(conn, ids, SIMILAR_K)
    return counts


def all_profiles(engine: Any) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(Profile.id)).scalars())


def latest_run(engine: Any) -> int | None:
    """The latest finished crawl run (the latest at all when none has finished)."""
    from models.tables import CrawlRun

    with engine.connect() as conn:
        finished = conn.execute(select(CrawlRun.id).where(CrawlRun.finished_at.is_not(None))
                                .order_by(CrawlRun.id.desc()).limit(1)).scalar_one_or_none()
        return finished or conn.execute(select(func.max(CrawlRun.id))).scalar_one_or_none()
