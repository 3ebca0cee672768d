"""The sandbox: a deterministic synthetic social network served on 127.0.0.1.

* :class:`~crawler.sandbox.world.World`: the data (accounts, posts, hashtag index), importable
  in-process so tests can compute expected answers without HTTP.
* :mod:`crawler.sandbox.mastodon`: the world as a Mastodon server's REST API.
* :class:`~crawler.sandbox.server.SandboxProcess`: the server in a child process, with
  latency and injected faults; ``python -m crawler.sandbox serve`` from a shell.
"""

from crawler.sandbox.faults import FAULT_KINDS, parse_faults
from crawler.sandbox.server import SandboxConfig, SandboxError, SandboxProcess, make_server
from crawler.sandbox.world import EPOCH, TIERS, World, tier_of

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
