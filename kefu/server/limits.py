"""How often a client may call: token buckets for the chat API (:class:`ChatLimits`), and sign-in
throttling (:class:`SignInThrottle`).

Both count in memory, per server process: enough to stop a script hammering the bot or guessing
passwords, but ``kefu serve --workers N`` lets a client go N times as far, and a restart forgets
everything (counting across processes or hosts would need a shared store). The clock is a parameter so
tests can move time by hand. Keys that no longer limit anything are dropped now and then, so memory
follows the clients seen recently, not all clients ever.
"""

import threading
import time
from collections import deque
from collections.abc import Callable

from kefu.project.settings import ServerSettings

Clock = Callable[[], float]
MIN_KEYS_BEFORE_PRUNING = 1024


class TokenBucket:
    """Each key may make ``burst`` calls at once, and then ``rate_per_minute`` on average; a rate of 0
    lets every call through."""

    def __init__(self, rate_per_minute: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate = rate_per_minute / 60  # tokens per second
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when they were counted)
        self._prune_at = MIN_KEYS_BEFORE_PRUNING
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one of ``key``'s tokens: 0 when there was one, else the seconds until there will be."""
        if not self.rate:
            return 0.0
        with self._lock:
            now = self.clock()
            tokens = self._tokens(key, now)
            if tokens < 1:
                return (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > self._prune_at:
                # a full bucket is the same as none at all
                self._buckets = {k: v for k, v in self._buckets.items() if self._tokens(k, now) < self.burst}
                self._prune_at = max(MIN_KEYS_BEFORE_PRUNING, 2 * len(self._buckets))
            return 0.0

    def _tokens(self, key: str, now: float) -> float:
        tokens, then = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - then) * self.rate)


class LoginThrottle:
    """After ``max_failures`` failed sign-ins for a key within ``window_seconds``, that key must wait until
    the oldest of them is ``window_seconds`` old; a ``max_failures`` of 0 never throttles."""

    def __init__(self, max_failures: int, window_seconds: float, clock: Clock = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}  # key -> times of its last max_failures failures
        self._prune_at = MIN_KEYS_BEFORE_PRUNING
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> float:
        """Seconds until every one of ``keys`` may try again; 0 when they all may now."""
        if not self.max_failures:
            return 0.0
        with self._lock:
            now = self.clock()
            waits = [
                times[0] + self.window - now
                for times in map(self._failures.get, keys)
                if times is not None and len(times) == self.max_failures
            ]
            return max([0.0, *waits])

    def failed(self, *keys: str) -> None:
        """Count a failed sign-in against each of ``keys``."""
        if not self.max_failures:
            return
        with self._lock:
            now = self.clock()
            for key in keys:
                self._failures.setdefault(key, deque(maxlen=self.max_failures)).append(now)
            if len(self._failures) > self._prune_at:
                self._failures = {k: t for k, t in self._failures.items() if t[-1] + self.window > now}
                self._prune_at = max(MIN_KEYS_BEFORE_PRUNING, 2 * len(self._failures))

    def succeeded(self, key: str) -> None:
        """Forget ``key``'s failures (the right password was given)."""
        with self._lock:
            self._failures.pop(key, None)


class ChatLimits:
    """The chat API's buckets (``server:`` in kefu.yml): messages per client address and per conversation,
    and polls per client address. Polls have their own: the widget polls every couple of seconds, and
    three customers behind one address (an office, a carrier's NAT) polling from the messages' budget
    had most of their messages refused."""

    def __init__(self, settings: ServerSettings, clock: Clock = time.monotonic) -> None:
        self.messages = TokenBucket(settings.chat_rate_per_minute, settings.chat_burst, clock)
        self.conversations = TokenBucket(settings.chat_session_rate_per_minute, settings.chat_session_burst, clock)
        self.polls = TokenBucket(settings.poll_rate_per_minute, settings.poll_burst, clock)


class SignInThrottle:
    """Failed sign-ins counted three ways over one window (``server.login_*`` in kefu.yml): per username
    and address pair (someone mistyping, or guessing one account from one place), per username from any
    address (guessing one account from many places), and per address for any username (trying many
    accounts from one place).

    Over any of the limits a sign-in waits until the window has passed, whatever the password, except
    that a known device (a browser that signed in as the user before) is held to its pair's limit only:
    so nobody can keep a user out by failing for its name from elsewhere. The right password clears its
    pair's failures only, so it buys a guesser no more tries for the username or the address.
    """

    def __init__(self, settings: ServerSettings, clock: Clock = time.monotonic) -> None:
        window = settings.login_window_seconds
        self.pairs = LoginThrottle(settings.login_max_failures, window, clock)
        self.users = LoginThrottle(settings.login_max_failures_per_user, window, clock)
        self.addresses = LoginThrottle(settings.login_max_failures_per_address, window, clock)

    def retry_after(self, username: str, address: str, known_device: bool = False) -> float:
        """Seconds until ``username`` may try to sign in from ``address``; 0 when it may now."""
        wait = self.pairs.retry_after(_pair(username, address))
        if known_device:
            return wait
        return max(wait, self.users.retry_after(username), self.addresses.retry_after(address))

    def failed(self, username: str, address: str) -> None:
        """Count a wrong password for ``username`` from ``address``."""
        self.pairs.failed(_pair(username, address))
        self.users.failed(username)
        self.addresses.failed(address)

    def succeeded(self, username: str, address: str) -> None:
        """Forget the pair's failures (the right password was given)."""
        self.pairs.succeeded(_pair(username, address))


def _pair(username: str, address: str) -> str:
    return f"{address} {username}"  # an address has no space: no two pairs share a key
