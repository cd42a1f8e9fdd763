"""Per-client limits: calls in progress at once (concurrency) and calls started per second
(a token bucket). Refusals are immediate: RESOURCE_EXHAUSTED with a RetryInfo, never a wait.

A client is the token's client name (server/auth.py), or `peer:<host>` when tokens are off:
the host alone, since one engine opens several connections from several ports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace


class Refused(Exception):
    """A call refused by a limit; `reason` labels the metric, `retry_after_s` the hint."""

    def __init__(self, reason: str, message: str, retry_after_s: float):
        self.reason, self.retry_after_s = reason, retry_after_s
        super().__init__(message)


@dataclass(frozen=True)
class ClientLimits:
    # Calls of one client in progress at once (streams and HTTP requests). 16 lets an engine
    # keep a level's worth of streams open; more waits in its own code, not in our queue.
    concurrency: int = 16
    # Calls started per second, sustained; 0 = no rate limit. 50/s is far above what one
    # engine needs (cache hits take milliseconds) and far below what starves the event loop.
    rate: float = 50.0
    burst: int = 0  # calls that may start at once above the rate; 0 = max(1, rate)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.rate < 0 or self.burst < 0:
            raise ValueError("rate and burst must be >= 0")

    @property
    def bucket(self) -> float:
        return float(self.burst or max(1.0, self.rate))

    def with_fields(self, fields: Sequence[str]) -> ClientLimits:
        """These limits with `key=value` fields applied (ValueError naming the bad one)."""
        changes: dict[str, float | int] = {}
        for item in fields:
            key, sep, value = item.partition("=")
            if not sep or key not in ("concurrency", "rate", "burst"):
                raise ValueError(f"{item[:60]!r}: expected concurrency=N, rate=R/s or burst=N")
            try:
                if key == "rate":
                    changes[key] = parse_rate(value)
                else:
                    changes[key] = int(value)
                    if changes[key] < (1 if key == "concurrency" else 0):
                        raise ValueError
            except ValueError:
                allowed = {"concurrency": "an integer >= 1", "burst": "an integer >= 0",
                           "rate": "R/s or R/min with R >= 0, e.g. 20/s"}[key]
                raise ValueError(f"{item[:60]!r}: {key} must be {allowed}") from None
        return replace(self, **changes)


def parse_rate(text: str) -> float:
    """'20/s', '20', '600/min' -> calls per second."""
    number, _, unit = text.partition("/")
    per = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0}.get(unit.strip().lower())
    value = float(number)
    if per is None or not value >= 0 or value == float("inf"):
        raise ValueError(text)
    return value / per


class _State:
    __slots__ = ("active", "stamp", "tokens")

    def __init__(self, tokens: float, now: float):
        self.active = 0
        self.tokens = tokens
        self.stamp = now


# Clients remembered at most; past it, the idle ones (no call in progress) are forgotten, so
# callers from ever-new peer hosts cannot grow the table without bound.
MAX_CLIENTS = 10_000


class Limiter:
    """Admits calls per client; thread-safe (the HTTP face and gRPC share one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, _State] = {}

    def acquire(self, client: str, limits: ClientLimits) -> Callable[[], None]:
        """Admit one call of `client` or raise Refused; returns the call's release()."""
        now = self._clock()
        with self._lock:
            st = self._clients.get(client)
            if st is None:
                if len(self._clients) >= MAX_CLIENTS:
                    self._clients = {c: s for c, s in self._clients.items() if s.active}
                st = self._clients[client] = _State(limits.bucket, now)
            if st.active >= limits.concurrency:
                raise Refused("concurrency", f"client {client}: {st.active} calls in progress, "
                              f"its limit is {limits.concurrency}; retry when one finishes", 0.1)
            if limits.rate > 0:
                st.tokens = min(limits.bucket, st.tokens + (now - st.stamp) * limits.rate)
                st.stamp = now
                if st.tokens < 1:
                    wait = (1 - st.tokens) / limits.rate
                    raise Refused("rate", f"client {client}: over its rate limit of "
                                  f"{limits.rate:g} calls/s; retry in {wait:.2f} s", wait)
                st.tokens -= 1
            st.active += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            with self._lock:
                st.active -= 1

        return release

    def active(self, client: str) -> int:
        with self._lock:
            st = self._clients.get(client)
            return 0 if st is None else st.active
