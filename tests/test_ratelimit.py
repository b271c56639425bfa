"""Client-side rate limits, on a virtual clock: how many requests go out per second."""

import threading

import pytest

from exporter.ratelimit import RequestLimiter, TokenBucket


class VirtualTime:
    """A clock whose sleep advances it, so rate tests are exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_burst_then_steady_rate():
    time = VirtualTime()
    bucket = TokenBucket(rate=10, clock=time.clock, sleep=time.sleep)
    waits = [bucket.acquire() for _ in range(30)]
    assert waits[:10] == [0.0] * 10  # a full bucket lets a burst through
    assert all(wait > 0 for wait in waits[10:])
    # 30 requests at 10/s with a burst of 10 take 2 s: never faster than the rate
    assert time.now == pytest.approx(2.0)


def test_unused_allowance_does_not_pile_up_beyond_the_burst():
    time = VirtualTime()
    bucket = TokenBucket(rate=5, clock=time.clock, sleep=time.sleep)
    time.now = 3600.0  # an hour idle
    waits = [bucket.acquire() for _ in range(10)]
    assert waits[:5] == [0.0] * 5
    assert time.now - 3600.0 == pytest.approx(1.0)


def test_limiter_applies_the_operation_and_the_overall_limit():
    time = VirtualTime()
    limiter = RequestLimiter(
        {"ListRestoreJobs": 20, "DescribeRestoreJob": 15},
        total=25,
        clock=time.clock,
        sleep=time.sleep,
    )
    for _ in range(100):
        limiter.acquire("DescribeRestoreJob")
    # a burst of 15, then 15 a second: the describe quota binds, not the overall one
    assert time.now == pytest.approx((100 - 15) / 15)
    time.now += 60  # let every bucket fill up again
    start = time.now
    for index in range(200):
        limiter.acquire("ListRestoreJobs" if index % 2 else "DescribeRestoreJob")
    # for a mix, the overall limit binds: a burst of 25, then 25 a second
    assert time.now - start == pytest.approx((200 - 25) / 25)


def test_waiting_callers_queue_fairly_across_threads():
    time = VirtualTime()
    bucket = TokenBucket(rate=10, burst=1, clock=time.clock, sleep=time.sleep)
    reservations = []
    lock = threading.Lock()

    def worker():
        for _ in range(25):
            wait = bucket.reserve()
            with lock:
                reservations.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 100 reservations without time passing: each one waits 0.1 s longer than the one before
    assert sorted(reservations) == pytest.approx([0.1 * i for i in range(100)])


def test_rate_must_be_positive():
    with pytest.raises(ValueError):
        TokenBucket(rate=0)
