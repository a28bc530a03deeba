"""The durable event log: order, bounds, acknowledgement, restart, torn writes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamfuse.errors import ConfigError
from streamfuse.sinks.durable import DurableLog

pytestmark = pytest.mark.timeout(60)


def ids(records):
    return [r.event["id"] for r in records]


def test_pending_survives_restart_in_order(tmp_path, make_events):
    events = make_events(100)
    log = DurableLog(tmp_path, retain_acked=False)
    for e in events:
        log.append(e)
    log.ack(39)
    log.close()
    log = DurableLog(tmp_path, retain_acked=False)
    assert ids(log.pending(1000)) == [e["id"] for e in events[40:]]
    assert log.stats()["backlog"] == 60
    seq = log.append(make_events(1, start_seq=100)[0])
    assert seq == 100  # numbering goes on after the restart
    log.close()


def test_count_bound_drops_oldest_and_counts_them(tmp_path, make_events):
    events = make_events(120)
    log = DurableLog(tmp_path, max_events=50, retain_acked=False)
    for e in events:
        log.append(e)
    stats = log.stats()
    assert stats["retained"] == 50 and stats["backlog"] == 50
    assert stats["dropped"] == 70
    assert ids(log.pending(1000)) == [e["id"] for e in events[70:]]  # the newest are kept
    log.close()


def test_byte_bound_holds_on_disk(tmp_path, make_events):
    events = make_events(400, pad=500)
    log = DurableLog(tmp_path, max_bytes=64 << 10, segment_bytes=8 << 10, retain_acked=False)
    for e in events:
        log.append(e)
    assert log.stats()["bytes"] <= 64 << 10
    on_disk = sum(p.stat().st_size for p in tmp_path.glob("*.jsonl"))
    assert on_disk <= (64 << 10) + (8 << 10)
    assert log.stats()["dropped"] == 400 - log.stats()["retained"]
    log.close()


def test_acknowledged_segments_are_removed(tmp_path, make_events):
    log = DurableLog(tmp_path, segment_bytes=4096, retain_acked=False)
    for e in make_events(300):
        seq = log.append(e)
    log.ack(seq)
    assert log.stats()["backlog"] == 0
    assert len(list(tmp_path.glob("*.jsonl"))) == 1  # only the one being written
    log.close()


def test_torn_last_line_is_cut_off(tmp_path, make_events):
    events = make_events(10)
    log = DurableLog(tmp_path)
    for e in events:
        log.append(e)
    log.close()
    (segment,) = tmp_path.glob("*.jsonl")
    with open(segment, "ab") as f:
        f.write(b'{"id": "half-writ')  # a crash in the middle of a write
    log = DurableLog(tmp_path)
    assert ids(log.read()) == [e["id"] for e in events]
    assert log.append(make_events(1, start_seq=10)[0]) == 10
    assert ids(log.read(after=9)) == ["cam1-00000010"]
    assert json.loads(segment.read_bytes().splitlines()[-1])["id"] == "cam1-00000010"
    log.close()


def test_replay_from_an_event_id(tmp_path, make_events):
    events = make_events(30)
    log = DurableLog(tmp_path, max_events=20)
    for e in events:
        log.ack(log.append(e))
    assert log.seq_of(events[5]["id"]) is None  # evicted
    seq = log.seq_of(events[25]["id"])
    assert ids(log.read(after=seq)) == [e["id"] for e in events[26:]]
    assert log.stats()["dropped"] == 0 and log.stats()["evicted"] == 10  # acknowledged: not a loss
    log.close()


def test_one_process_per_folder(tmp_path):
    log = DurableLog(tmp_path)
    with pytest.raises(ConfigError, match="in use"):
        DurableLog(tmp_path)
    log.close()
    DurableLog(tmp_path).close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["append", "ack", "restart"]), st.integers(1, 7)), max_size=40),
       st.integers(3, 30))
def test_backlog_is_the_newest_unacknowledged_in_order(tmp_path_factory, ops, bound):
    """Whatever the appends, acks and restarts, the log behaves like a bounded drop-oldest queue:
    pending is the model's queue, in order, and dropped counts what the model dropped."""
    folder = tmp_path_factory.mktemp("log")
    log = DurableLog(folder, max_events=bound, retain_acked=False, fsync="never")
    model: list[str] = []
    model_dropped = 0
    dropped_before = 0  # counters restart with the process
    n = 0
    for op, k in ops:
        if op == "append":
            for _ in range(k):
                log.append({"id": f"e{n}", "type": "streamfuse.speech"})
                model.append(f"e{n}")
                n += 1
                if len(model) > bound:
                    model.pop(0)
                    model_dropped += 1
        elif op == "ack":
            pending = log.pending(k)
            if pending:
                log.ack(pending[-1].seq)
            del model[:k]
        else:
            dropped_before += log.stats()["dropped"]
            log.close()
            log = DurableLog(folder, max_events=bound, retain_acked=False, fsync="never")
    assert ids(log.pending(10_000)) == model
    assert dropped_before + log.stats()["dropped"] == model_dropped
    log.close()
