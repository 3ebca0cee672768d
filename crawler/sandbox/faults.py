"""Injected faults: transient, deterministic, and never more than two in a row per URL.

Whether a request is faulted, and how, is a function of ``(seed, request target, attempt)``
where *attempt* counts the consecutive faulted answers that URL has just had. So:

* the same crawl against the same sandbox sees the same faults, whatever the timing;
* a client that retries a URL up to 2 times (3 attempts) always gets a real answer;
* a URL that was answered properly starts afresh (its state is dropped, which keeps the
  bookkeeping as small as the set of URLs currently failing).
"""

from __future__ import annotations

import hashlib
import threading

#: Fault kinds: "429" (with Retry-After: 1), "500", "503", "slow" (the answer is delayed),
#: "truncate" (the body is cut short, Content-Length matching what is sent: invalid JSON).
FAULT_KINDS = ("429", "500", "503", "slow", "truncate")
MAX_CONSECUTIVE = 2


class FaultSpecError(ValueError):
    pass


def parse_faults(spec: str | None) -> dict[str, float]:
    """``"429=0.05,500=0.03"`` -> ``{"429": 0.05, "500": 0.03}``; raises FaultSpecError."""
    rates: dict[str, float] = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        kind, sep, value = item.partition("=")
        kind = kind.strip()
        if not sep:
            raise FaultSpecError(f"bad fault {item!r}: expected KIND=RATE, e.g. 429=0.05")
        try:
            rate = float(value)
        except ValueError:
            raise FaultSpecError(f"bad rate {value.strip()!r} for fault {kind!r}") from None
        rates[kind] = rate
    return check_faults(rates)


def check_faults(rates: dict[str, float] | None) -> dict[str, float]:
    rates = dict(rates or {})
    for kind, rate in rates.items():
        if kind not in FAULT_KINDS:
            raise FaultSpecError(
                f"unknown fault kind {kind!r}: choose from {', '.join(FAULT_KINDS)}"
            )
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"rate for fault {kind!r} must be between 0 and 1, not {rate}")
    if sum(rates.values()) > 1.0 + 1e-9:
        raise FaultSpecError(f"fault rates add up to {sum(rates.values()):g}, more than 1")
    return {kind: float(rates[kind]) for kind in FAULT_KINDS if rates.get(kind)}


class FaultInjector:
    def __init__(self, rates: dict[str, float] | None, seed: int = 0) -> None:
        self.rates = check_faults(rates)
        self.seed = seed
        self._lock = threading.Lock()
        self._streaks: dict[str, int] = {}  # URL -> faulted answers in a row, while failing
        cumulative, bounds = 0.0, []
        for kind, rate in self.rates.items():
            cumulative += rate
            bounds.append((int(cumulative * 2**64), kind))
        self._bounds = bounds

    def __bool__(self) -> bool:
        return bool(self.rates)

    def decide(self, target: str) -> str | None:
        """The fault for this request of ``target`` (path and query), or None."""
        if not self._bounds:
            return None
        with self._lock:
            streak = self._streaks.get(target, 0)
            kind = None
            if streak < MAX_CONSECUTIVE:
                draw = hashlib.blake2b(
                    f"{self.seed}\x00{target}\x00{streak}".encode(), digest_size=8
                ).digest()
                value = int.from_bytes(draw, "big")
                kind = next((k for bound, k in self._bounds if value < bound), None)
            if kind is None:
                self._streaks.pop(target, None)
            else:
                self._streaks[target] = streak + 1
            return kind
