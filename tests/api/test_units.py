"""Pure pieces of the API: the token bucket, display file names, cursors. No database needed."""

from __future__ import annotations

import pytest

from api.errors import InvalidCursor
from api.ratelimit import TokenBucketLimiter
from api.services import cursors
from api.services.submission import display_filename


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_burst_refill_and_isolation() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate_per_s=2.0, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)  # one token takes 1/rate seconds
    assert limiter.acquire("b") == 0.0  # another token has its own bucket
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 60
    assert [limiter.acquire("a") for _ in range(4)][-1] > 0  # refills only up to the burst


def test_token_bucket_forgets_least_recently_used_keys() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1, max_keys=2, clock=clock)
    limiter.acquire("a")
    limiter.acquire("b")
    limiter.acquire("c")  # evicts "a"
    assert len(limiter._buckets) == 2
    assert limiter.acquire("a") == 0.0  # a fresh, full bucket
    assert limiter.acquire("c") > 0
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate_per_s=0, burst=1)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("library.smi", "library.smi"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\lib.sdf.gz", "lib.sdf.gz"),
        ("bad\x00na\x1bme\u202e.csv", "badname.csv"),
        ("..", None),
        ("", None),
        (None, None),
        ("dir/", None),
    ],
)
def test_display_filename(raw: str | None, shown: str | None) -> None:
    assert display_filename(raw) == shown


def test_display_filename_is_bounded_and_keeps_the_suffix() -> None:
    shown = display_filename("x" * 1000 + ".smi.gz")
    assert shown is not None and len(shown) <= 200 and shown.endswith(".gz")


def test_cursors_round_trip_and_reject_garbage() -> None:
    payload = {"s": "-score", "v": 0.30000000000000004, "i": 12}
    assert cursors.decode(cursors.encode(payload)) == payload
    for bad in ("%%%", "bm90IGpzb24", cursors.encode({"x": 1})[:-3] + "!!!", "W10", "a" * 5000):
        with pytest.raises(InvalidCursor):
            cursors.decode(bad)
