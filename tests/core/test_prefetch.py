"""The local runtime's read-ahead: bounded, errors reach the caller, no thread is abandoned."""

import threading
import time

import pytest

from streamfuse.runtime.prefetch import Prefetch


def test_items_arrive_in_order():
    assert list(Prefetch(range(100), ahead=3)) == list(range(100))


def test_producer_stays_a_bounded_number_of_items_ahead():
    produced = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    it = iter(Prefetch(items(), ahead=4))
    assert next(it) == 0
    time.sleep(0.3)
    assert len(produced) <= 1 + 4 + 1  # the one taken, a full queue, one waiting to be put
    it.close()


def test_producer_error_reaches_the_consumer_with_its_traceback():
    def items():
        yield 1
        raise ValueError("decoder broke")

    got = []
    with pytest.raises(ValueError, match="decoder broke") as info:
        for x in Prefetch(items(), ahead=2):
            got.append(x)
    assert got == [1]
    assert any(entry.name == "items" for entry in info.traceback)


def test_stopping_early_joins_the_producer():
    before = threading.active_count()
    for x in Prefetch(iter(range(10**9)), ahead=2, name="endless"):
        if x == 5:
            break
    assert not any(t.name == "endless" for t in threading.enumerate())
    assert threading.active_count() <= before
