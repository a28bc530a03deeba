"""Opening sinks and subscriptions from URIs: wrong schemes, unreachable brokers and refused
credentials give one-line errors that say what to do, and never show the password."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from streamfuse.errors import ConfigError, SourceUnreachableError, UserInputError
from streamfuse.sinks.uri import open_sink
from streamfuse.client import subscribe
from streamfuse.client.cli import run_subscribe_cli

pytestmark = pytest.mark.timeout(60)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    assert "s3cret" not in text
    return text


@pytest.mark.parametrize("uri", ["ftp://host/x", "kafka://127.0.0.1:9092/t", "amqp://u:s3cret@h/v"])
def test_unknown_sink_scheme_lists_the_allowed_ones(uri):
    with pytest.raises(ConfigError) as info:
        open_sink(uri)
    text = one_line(info.value)
    for scheme in ("file://", "mqtt://", "redis://", "nats://", "http://"):
        assert scheme in text


@pytest.mark.parametrize("uri", ["redis://127.0.0.1:notaport/0", "mqtt:///prefix", "redis://127.0.0.1/abc"])
def test_malformed_broker_uri(uri, tmp_path):
    with pytest.raises(ConfigError) as info:
        open_sink(uri, buffer_dir=tmp_path)
    one_line(info.value)


@pytest.mark.parametrize("scheme", ["redis", "nats", "mqtt"])
def test_unreachable_broker_at_start(scheme, tmp_path, free_port):
    uri = f"{scheme}://user:s3cret@127.0.0.1:{free_port()}/x"
    if scheme == "redis":
        uri = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    start = time.monotonic()
    with pytest.raises(SourceUnreachableError) as info:
        open_sink(uri, buffer_dir=tmp_path, connect_timeout=1.0)
    assert time.monotonic() - start < 10
    text = one_line(info.value)
    assert "cannot reach" in text and "***@127.0.0.1" in text
    assert isinstance(info.value, UserInputError) and info.value.exit_code == 2


@pytest.mark.parametrize("kind", ["redis", "nats", "mqtt"])
def test_refused_credentials(kind, broker, tmp_path):
    b = broker(kind, user="streamfuse" if kind != "redis" else None, password="right-pass")
    uri = b.uri("/0" if kind == "redis" else "/x", user=None if kind == "redis" else "streamfuse",
                password="s3cret")
    with pytest.raises(SourceUnreachableError) as info:
        open_sink(uri, buffer_dir=tmp_path / "buf", connect_timeout=2.0)
    text = one_line(info.value)
    assert "credentials" in text
    with pytest.raises(SourceUnreachableError) as info:
        asyncio.run(subscribe(uri, connect_timeout=2.0).start())
    assert "credentials" in one_line(info.value)
    # and the right password works
    good = b.uri("/0" if kind == "redis" else "/x", user=None if kind == "redis" else "streamfuse",
                 password="right-pass")
    open_sink(good, buffer_dir=tmp_path / "buf2", connect_timeout=5.0).close()


def test_subscribe_cli_bad_uri_exits_2_with_one_line():
    out, err = io.StringIO(), io.StringIO()
    assert run_subscribe_cli(["kafka://u:s3cret@h/x"], out=out, err=err) == 2
    assert out.getvalue() == ""
    line = err.getvalue()
    assert line.count("\n") == 1 and "Traceback" not in line and "s3cret" not in line
    assert "http://" in line and "redis://" in line


def test_subscribe_cli_unreachable_exits_2(free_port):
    err = io.StringIO()
    code = run_subscribe_cli([f"redis://:s3cret@127.0.0.1:{free_port()}/0", "--timeout", "5"],
                             out=io.StringIO(), err=err)
    assert code == 2
    assert err.getvalue().count("\n") == 1 and "cannot reach" in err.getvalue()
    assert "s3cret" not in err.getvalue()


def test_subscribe_rejects_bad_filters():
    with pytest.raises(ConfigError, match="unknown event type"):
        subscribe("http://127.0.0.1:1", types=["explosion"])
    with pytest.raises(ConfigError, match="at most 256"):
        subscribe("http://127.0.0.1:1", query="x" * 300)
    with pytest.raises(ConfigError, match="no history"):
        subscribe("mqtt://127.0.0.1:1/x", since="cam1-00000001")


def test_buffer_folder_follows_the_documented_environment(monkeypatch, tmp_path):
    from streamfuse.sinks._delivery import default_buffer_dir
    monkeypatch.setenv("STREAMFUSE_BUFFER_DIR", str(tmp_path / "buffers"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    here = default_buffer_dir("redis", "redis://127.0.0.1:6379/0")
    assert here.parent == tmp_path / "buffers"
    assert default_buffer_dir("redis", "redis://127.0.0.1:6380/0") != here  # one folder per destination
    monkeypatch.delenv("STREAMFUSE_BUFFER_DIR")
    assert default_buffer_dir("redis", "redis://127.0.0.1:6379/0").parent == tmp_path / "state" / "streamfuse" / "buffers"
    # a configured root (sinks.buffer_dir) wins over both
    assert default_buffer_dir("redis", "redis://h/0", tmp_path / "cfg").parent == tmp_path / "cfg"
