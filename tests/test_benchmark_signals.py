"""The creator-signals benchmark (benchmarks/signals.py) at a small size, in a file of its own so
that pytest-xdist (``--dist loadfile``) runs it beside tests/test_benchmarks.py, not after it."""

from __future__ import annotations

import pytest

from benchmarks import common

pytestmark = pytest.mark.slow


def test_creator_signals_find_the_planted_patterns_on_a_held_out_world(capsys):
    """The signals benchmark on two platforms (Mastodon, Bluesky: every signal is visible in
    their formats), 250 accounts each, three sandbox days (spikes bought on days 1-2 are judged),
    seeds no threshold was set on."""
    from benchmarks import signals

    rows = signals.run(250, 3, seed=signals.HELD_OUT_SEED, platforms=["mastodon", "bluesky"])
    common.print_table("creator signals", rows)
    out = capsys.readouterr().out
    assert "| follower spike |" in out
    found = {row.case.split(":")[0]: row for row in rows if row.case.endswith("(precision)")}
    assert set(found) == {"follower spike", "engagement pod", "mass follow", "sponsored feed",
                          "contact email", "language", "twin"}
    for row in rows:
        if row.ours is not None:  # a pattern with nothing planted among them has no figure
            assert row.met, row
    assert sum(row.ours is not None for row in rows) >= 12
