"""The chat API's token buckets and the sign-in throttle: on a clock the tests move by hand, then over a
real server, where customers behind one address chat and poll as the widget does."""

import math
import re
import threading
import time

import httpx
import pytest

from kefu.project.settings import ServerSettings
from kefu.server.limits import MIN_KEYS_BEFORE_PRUNING, LoginThrottle, TokenBucket
from kefu.server.pages import STATIC_DIR


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


# how often the widget polls while its panel is open
POLL_SECONDS = int(re.search(r"var POLL_MS = (\d+);", (STATIC_DIR / "widget.js").read_text())[1]) / 1000
MESSAGE_SECONDS = 10
POLLS_PER_MESSAGE = math.ceil(MESSAGE_SECONDS / POLL_SECONDS)  # the one after the answer included
SPEEDUP = 20  # the test's customers live 20 times as fast, and so do the server's rates


def widget_customer(url: str, messages: int, codes: dict[str, list]) -> None:
    """One customer with the widget open: a message every MESSAGE_SECONDS; after each answer a poll, then
    one every POLL_SECONDS until the next message. Appends to ``codes`` each message's status code and
    whether it had an answer, and each poll's status code."""
    start = time.monotonic()
    session = None
    with httpx.Client(base_url=url, timeout=30) as http:
        for n in range(messages):
            time.sleep(max(0.0, start + n * MESSAGE_SECONDS / SPEEDUP - time.monotonic()))
            answer = http.post("/api/v1/chat", json={"session_id": session, "text": "hi"})
            codes["messages"].append((answer.status_code, bool(answer.json().get("reply", {}).get("text"))))
            session = answer.json().get("session_id", session)
            if answer.json().get("session_key"):  # the widget keeps it for the polls and the next messages
                http.headers["X-Session-Key"] = answer.json()["session_key"]
            answered = time.monotonic()
            # as many polls as the widget makes between two messages, late ones at once: a busy test
            # machine's slow answers make the polls come closer together, never fewer
            for k in range(POLLS_PER_MESSAGE):
                time.sleep(max(0.0, answered + k * POLL_SECONDS / SPEEDUP - time.monotonic()))
                codes["polls"].append(http.get(f"/api/v1/chat/{session}/messages").status_code)


def test_three_customers_behind_one_address_get_every_message_answered(serve_with) -> None:
    defaults = ServerSettings()
    faster = {name: value * SPEEDUP for name, value in defaults if name.endswith("rate_per_minute")}
    with serve_with(ServerSettings(**faster)) as server:
        codes: dict[str, list] = {"messages": [], "polls": []}
        customers = [threading.Thread(target=widget_customer, args=(server.url, 5, codes)) for _ in range(3)]
        for customer in customers:
            customer.start()
        for customer in customers:
            customer.join(60)
    assert codes["messages"] == [(200, True)] * 15
    assert codes["polls"] == [200] * 15 * POLLS_PER_MESSAGE


def test_polls_do_not_spend_the_message_budget(serve_with) -> None:
    settings = ServerSettings(chat_rate_per_minute=1, chat_burst=2)
    with serve_with(settings) as server, httpx.Client(base_url=server.url) as http:
        started = http.post("/api/v1/chat", json={"text": "hi"}).json()
        session, http.headers["X-Session-Key"] = started["session_id"], started["session_key"]
        for _ in range(10):
            assert http.get(f"/api/v1/chat/{session}/messages").status_code == 200
        assert http.post("/api/v1/chat", json={"text": "hi", "session_id": session}).status_code == 200
        limited = http.post("/api/v1/chat", json={"text": "hi", "session_id": session})
        assert limited.status_code == 429 and 55 <= int(limited.headers["retry-after"]) <= 60


def test_one_conversation_gets_a_share_of_its_addresss_messages(serve_with) -> None:
    with serve_with(ServerSettings()) as server, httpx.Client(base_url=server.url) as http:
        started = http.post("/api/v1/chat", json={"text": "hi"}).json()
        session, http.headers["X-Session-Key"] = started["session_id"], started["session_key"]
        again = {"text": "hi", "session_id": session}
        assert {http.post("/api/v1/chat", json=again).status_code for _ in range(10)} == {200}
        limited = http.post("/api/v1/chat", json=again)
        assert limited.status_code == 429
        assert re.fullmatch(r"too many messages in this conversation; try again in \d+ s", limited.json()["detail"])
        assert http.post("/api/v1/chat", json={"text": "hi"}).status_code == 200  # another customer there


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(serve_with) -> None:
    def chat(http: httpx.Client, forwarded_for: str) -> int:
        return http.post("/api/v1/chat", json={"text": "hi"}, headers={"X-Forwarded-For": forwarded_for}).status_code

    one_message = {"chat_rate_per_minute": 1, "chat_burst": 1}
    with serve_with(ServerSettings(**one_message)) as server, httpx.Client(base_url=server.url) as http:
        assert [chat(http, "203.0.113.1"), chat(http, "203.0.113.2")] == [200, 429]  # both from 127.0.0.1
    with (
        serve_with(ServerSettings(**one_message, trusted_proxies=["127.0.0.0/8", "10.0.0.5"])) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        assert [chat(http, "203.0.113.1"), chat(http, "203.0.113.2"), chat(http, "203.0.113.1")] == [200, 200, 429]
        # a client's own X-Forwarded-For comes first; the address the proxies saw is the right-most one
        assert chat(http, "198.51.100.1, 203.0.113.2") == 429
        assert chat(http, "198.51.100.1, 203.0.113.3, 10.0.0.5") == 200
