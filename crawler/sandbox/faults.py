"""Injected faults: transient, deterministic, and never more than two in a row per URL.

Whether a request is faulted, and how, is a function of ``(seed, request target, attempt)``
where *attempt* counts the consecutive faulted answers that URL has just had. So:

* the same crawl against the same sandbox sees the same faults, whatever the timing;
* a client that retries a URL up to 2 times (3 attempts) always gets a real answer;
* a URL that was answered properly starts afresh (its state is dropped, which keeps the
  bookkeeping as small as the set of URLs currently failing).

:class:`Throttle` is the other, deliberate kind: one 429 at a request count the test chooses
(the server knobs ``throttle_after`` / ``throttle_retry_after``), e.g. to prove that a 429
pauses every crawler worker sharing the host's rate limit.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.sandbox.common import Response

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


DEFAULT_RETRY_AFTER = 1  # seconds, as the injected "429" fault says
_OFF_WORDS = ("", "off", "none", "no", "false")


class Throttle:
    """One 429 burst on demand: the server knobs ``throttle_after`` and ``throttle_retry_after``.

    Setting ``throttle_after=N`` arms it: N more faultable (API) requests pass, the next one is
    answered with the platform's own 429 (its ``fault_response("429")``: body and rate-limit
    headers as the platform sends them) carrying ``Retry-After: throttle_retry_after`` and,
    where the platform has one, a rate-limit reset that many seconds ahead; then it disarms.
    So it fires exactly once per setting of ``throttle_after``; setting it again re-arms it
    (``off`` disarms). Setting only ``throttle_retry_after`` changes the wait, not the count.
    Thread-safe.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.after: int | None = None  # the count it was last armed with (None: off)
        self.armed = False
        self.retry_after = DEFAULT_RETRY_AFTER
        self.passed = 0  # requests let through since it was armed
        self.sent_at: float | None = None  # epoch seconds the last 429 was sent
        self.target: str | None = None  # path and query it answered
        self.fired = 0  # 429s sent since the server started
        self.used = False  # set at least once: the knob state reports it from then on

    @staticmethod
    def parse(knobs: Mapping[str, str]) -> dict[str, int | None]:
        """The throttle knobs among ``knobs`` checked (``{"after": ..., "retry_after": ...}``,
        the ones named only); ValueError with a one-line message for a bad value."""
        parsed: dict[str, int | None] = {}
        if "throttle_after" in knobs:
            text = knobs["throttle_after"].strip().lower()
            if text in _OFF_WORDS:
                parsed["after"] = None
            elif text.isascii() and text.isdigit():
                parsed["after"] = int(text)
            else:
                raise ValueError(f"knob throttle_after must be off or a whole number >= 0, "
                                 f"not {knobs['throttle_after'].strip()!r}")
        if "throttle_retry_after" in knobs:
            text = knobs["throttle_retry_after"].strip()
            if not (text.isascii() and text.isdigit()):
                raise ValueError(f"knob throttle_retry_after must be whole seconds >= 0, "
                                 f"not {text!r}")
            parsed["retry_after"] = int(text)
        return parsed

    def configure(self, knobs: Mapping[str, str]) -> None:
        """Apply the throttle knobs among ``knobs`` (ValueError, nothing changed, when bad)."""
        self.apply(self.parse(knobs))

    def apply(self, parsed: Mapping[str, int | None]) -> None:
        """Apply what :meth:`parse` returned."""
        if not parsed:
            return
        with self._lock:
            self.used = True
            if "retry_after" in parsed:
                self.retry_after = int(parsed["retry_after"] or 0)
            if "after" in parsed:  # (re-)arm, or disarm with None
                self.after, self.passed = parsed["after"], 0
                self.armed = self.after is not None
                self.sent_at = self.target = None

    def take(self) -> bool:
        """Count one faultable request; True when this one is to be answered 429 (then the
        throttle is disarmed)."""
        if not self.armed:  # unlocked fast path: disarmed is the usual state
            return False
        with self._lock:
            if not self.armed or self.after is None:
                return False
            if self.passed >= self.after:
                self.armed = False
                return True
            self.passed += 1
            return False

    def answer(self, response: Response, target: str) -> Response:
        """The platform's 429 ``response`` with this throttle's wait, noted as sent now."""
        now = self.clock()
        with self._lock:
            seconds = self.retry_after
            self.sent_at, self.target = now, target
            self.fired += 1
        headers = [(k, v) for k, v in response.headers if k.lower() != "retry-after"]
        for i, (name, _value) in enumerate(headers):
            if name.lower() == "x-ratelimit-reset":  # Mastodon: ISO 8601, microseconds
                moment = datetime.fromtimestamp(now + seconds, tz=timezone.utc)
                headers[i] = (name, moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            elif name.lower() == "ratelimit-reset":  # Bluesky: epoch seconds
                headers[i] = (name, str(math.ceil(now + seconds)))
        headers.append(("retry-after", str(seconds)))
        response.headers = headers
        return response

    def state(self) -> dict:
        """``{"after", "retry_after", "armed", "passed", "sent_at", "resume_at", "target",
        "fired"}``: ``after`` is the count it was last armed with (None: off), ``armed`` whether
        its 429 is still to come, ``passed`` the requests let through since it was armed,
        ``sent_at`` the epoch time the 429 was sent (None until then; cleared on re-arming),
        ``resume_at`` = ``sent_at + retry_after``, ``target`` the path and query it answered,
        ``fired`` the 429s sent since the server started."""
        with self._lock:
            return {
                "after": self.after,
                "retry_after": self.retry_after,
                "armed": self.armed,
                "passed": self.passed,
                "sent_at": self.sent_at,
                "resume_at": None if self.sent_at is None else self.sent_at + self.retry_after,
                "target": self.target,
                "fired": self.fired,
            }
