"""The sandbox: a deterministic synthetic social network served on 127.0.0.1.

* :class:`~crawler.sandbox.world.World`: the data (accounts, posts, hashtag index), importable
  in-process so tests can compute expected answers without HTTP.
* :mod:`crawler.sandbox.mastodon`: the world as a Mastodon server's REST API.
* :class:`~crawler.sandbox.server.SandboxProcess`: the server in a child process, with
  latency and injected faults; ``python -m crawler.sandbox serve`` from a shell.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The package's public names and the modules that define them (imported on first use, so
#: importing one sandbox module does not import them all).
_EXPORTS = {
    "FAULT_KINDS": "faults", "parse_faults": "faults",
    "SandboxConfig": "server", "SandboxError": "server", "SandboxProcess": "server",
    "make_server": "server",
    "EPOCH": "world", "TIERS": "world", "World": "world", "tier_of": "world",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'crawler.sandbox' has no attribute {name!r}")
    return getattr(importlib.import_module(f"crawler.sandbox.{_EXPORTS[name]}"), name)


__all__ = [
    "EPOCH",
    "FAULT_KINDS",
    "TIERS",
    "SandboxConfig",
    "SandboxError",
    "SandboxProcess",
    "World",
    "make_server",
    "parse_faults",
    "tier_of",
]
