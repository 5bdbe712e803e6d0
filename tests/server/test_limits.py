"""The chat API's token buckets and the sign-in throttle, on a clock the tests move by hand."""

import pytest

from kefu.server.limits import MIN_KEYS_BEFORE_PRUNING, LoginThrottle, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_through_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_minute=60, burst=3, clock=clock)
    assert [bucket.take("1.2.3.4") for _ in range(3)] == [0, 0, 0]
    assert bucket.take("1.2.3.4") == pytest.approx(1.0)  # one token a second
    assert bucket.take("5.6.7.8") == 0  # every address has its own bucket
    clock.now += 0.5
    assert bucket.take("1.2.3.4") == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take("1.2.3.4") == 0
    clock.now += 3600  # a quiet hour refills the bucket to the burst, no further
    assert [bucket.take("1.2.3.4") for _ in range(4)] == [0, 0, 0, pytest.approx(1.0)]


def test_a_rate_of_zero_lets_everything_through() -> None:
    bucket = TokenBucket(rate_per_minute=0, burst=1, clock=Clock())
    assert [bucket.take("1.2.3.4") for _ in range(100)] == [0] * 100


def test_buckets_of_quiet_addresses_are_forgotten() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_minute=60, burst=2, clock=clock)
    for n in range(MIN_KEYS_BEFORE_PRUNING):
        bucket.take(f"address {n}")
    clock.now += 10
    bucket.take("newcomer")
    assert len(bucket._buckets) == 1


def test_five_failures_for_a_username_or_an_address_make_it_wait_out_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=5, window_seconds=900, clock=clock)
    for _ in range(4):
        throttle.failed("user:mei", "address:1.2.3.4")
        clock.now += 10
    assert throttle.retry_after("user:mei", "address:1.2.3.4") == 0
    throttle.failed("user:mei", "address:1.2.3.4")  # the fifth, 40 s after the first
    assert throttle.retry_after("user:mei", "address:5.6.7.8") == pytest.approx(860)
    assert throttle.retry_after("user:li", "address:1.2.3.4") == pytest.approx(860)
    assert throttle.retry_after("user:li", "address:5.6.7.8") == 0
    clock.now = 1000 + 900  # the first failure is 15 minutes old: four remain in the window
    assert throttle.retry_after("user:mei", "address:1.2.3.4") == 0


def test_a_success_clears_the_usernames_failures_only() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=2, window_seconds=900, clock=clock)
    throttle.failed("user:mei", "address:1.2.3.4")
    throttle.failed("user:mei", "address:1.2.3.4")
    throttle.succeeded("user:mei")
    assert throttle.retry_after("user:mei") == 0
    assert throttle.retry_after("address:1.2.3.4") == pytest.approx(900)


def test_no_failure_count_means_no_throttling() -> None:
    throttle = LoginThrottle(max_failures=0, window_seconds=900, clock=Clock())
    for _ in range(100):
        throttle.failed("user:mei")
    assert throttle.retry_after("user:mei") == 0
