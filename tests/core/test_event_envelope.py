"""The event envelope: schema, ids, redaction."""

import pytest

from streamfuse.events import EventSchemaError, event_types, make_event, redact, validate_event


def event(**kw):
    args = dict(source_id="cam", subject="clip.mp4", type="speech", seq=1, phase="start", event_id="cam-speech-1",
                start=1.0, end=2.0, confidence=0.9, modalities=["audio"])
    args.update(kw)
    return make_event(**args)


@pytest.mark.parametrize("kind", event_types())
def test_every_type_validates(kind):
    from streamfuse import registry

    mods = ["video", "audio"] if kind == "speaker.visible" else ["text"]
    phase = "start" if registry.kind(kind).durative else "instant"
    evidence = {"frames.dropped": {"count": 1, "reason": "late"},  # kinds whose evidence has required fields
                "zone.enter": {"zone": "driveway", "object": "cam-object-1"},
                "zone.leave": {"zone": "driveway", "object": "cam-object-1"}}.get(kind)
    validate_event(event(type=kind, phase=phase, modalities=mods, text="words", label="label", evidence=evidence))


def test_schema_rejects_what_users_rely_on_not_being_there():
    e = event()
    e["data"]["confidence"] = 1.5
    with pytest.raises(EventSchemaError, match="confidence"):
        validate_event(e)
    e = event(type="transcript", phase="instant", modalities=["text"])  # a transcript without text
    with pytest.raises(EventSchemaError, match="text"):
        validate_event(e)
    e = event()
    e["data"]["phase"] = "middle"
    with pytest.raises(EventSchemaError):
        validate_event(e)


def test_ids_are_unique_per_source_and_per_live_run():
    assert event(seq=7)["id"] == "cam-00000007"
    a, b = event(seq=7, run="r1"), event(seq=7, run="r2")
    assert a["id"] != b["id"] and a["source"] == b["source"] == "streamfuse://cam"


@pytest.mark.parametrize("uri, secret", [("rtsp://admin:hunter2@10.0.0.5/live", "hunter2"),
                                         ("redis://:pa55@127.0.0.1:6379/0", "pa55"),
                                         ("http://cam/x.m3u8?token=abc123&x=1", "abc123"),
                                         ("srt://10.0.0.5:9000?streamid=cam1&passphrase=s3cretphrase", "s3cretphrase")])
def test_credentials_are_redacted(uri, secret):
    assert secret not in redact(uri)
    assert secret not in str(event(subject=uri))
