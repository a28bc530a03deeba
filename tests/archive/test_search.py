"""The index analyze writes (OUT/index.sqlite: FTS5 + sqlite-vec) and ``streamfuse search`` over it:
ranked moments by words and by meaning, filters, ``--json``, and re-indexing never duplicates."""

from __future__ import annotations

import json
import shutil

import pytest

from .conftest import TEXT_ONLY, cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def archive(media, tmp_path_factory):
    """A real speaker with her subtitles, and a real signer with subtitles of our own."""
    root = tmp_path_factory.mktemp("search")
    clips = root / "clips"
    clips.mkdir()
    shutil.copy(media / "grid" / "bbaf2n.mpg", clips / "speaker.mpg")
    shutil.copy(media / "grid" / "bbaf2n.vtt", clips / "speaker.vtt")
    shutil.copy(media / "asl" / "book.mkv", clips / "signer.mkv")
    (clips / "signer.srt").write_text("1\n00:00:00,200 --> 00:00:01,800\nmy cat sleeps all afternoon\n")
    out = root / "out"
    proc = cli("analyze", str(clips), "-o", str(out), *TEXT_ONLY)
    assert proc.returncode == 0, proc.stderr
    return out


def search(capsys, out, *args):
    from streamfuse.cli.main import main
    code = main(["search", *args, "--index", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)["results"]


def test_words_find_the_moment_they_were_said(archive, capsys):
    hits = search(capsys, archive, "bin blue")
    top = hits[0]
    assert top["source"].endswith("speaker.mpg") and top["via"] in ("transcript", "description", "event")
    assert top["start"] < 2.12 and top["end"] > 0.95  # the sentence is said at 0.95-2.12 s
    assert set(top) >= {"source", "start", "end", "score", "via", "description"}
    assert all(a["score"] >= b["score"] for a, b in zip(hits, hits[1:]))


def test_meaning_finds_a_paraphrase_with_no_shared_word(archive, capsys):
    hits = search(capsys, archive, "kitten napping")
    assert hits[0]["source"].endswith("signer.mkv") and hits[0]["via"] == "meaning"
    assert hits[0]["score"] > max([h["score"] for h in hits if h["source"].endswith("speaker.mpg")], default=0)


def test_filters_by_source_type_and_media_time(archive, capsys):
    assert {h["source"].rsplit("/", 1)[-1] for h in search(capsys, archive, "cat", "--source", "speaker")} == {
        "speaker.mpg"}
    typed = search(capsys, archive, "bin blue", "--type", "transcript")
    assert typed and all(h["type"] == "transcript" for h in typed)
    assert all(h["end"] > 1.5 for h in search(capsys, archive, "bin blue", "--since", "1.5"))
    assert len(search(capsys, archive, "bin blue", "-k", "1")) == 1


def test_reindexing_replaces_an_input_and_never_duplicates(archive):
    from streamfuse.archive.index import open_index
    index = open_index(archive)
    try:
        def counts():
            return [index.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("windows", "events", "text_fts", "window_vec", "sources")]
        before = counts()
        assert before[0] > 0 and before[3] > 0 and before[4] == 2
        key = index.db.execute("SELECT key FROM sources WHERE name = 'speaker.mpg'").fetchone()[0]
        index.add_result(archive / "speaker.mpg", key)
        index.add_result(archive / "speaker.mpg", key)
        assert counts() == before
    finally:
        index.close()


def test_search_without_an_index_is_a_one_line_error(tmp_path):
    proc = cli("search", "anything", "--index", str(tmp_path))
    assert proc.returncode == 2 and "no index at" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_export_to_parquet_holds_every_window_event_and_embedding(archive, tmp_path):
    import numpy as np
    import pyarrow.parquet as pq

    proc = cli("export", str(archive), "-o", str(tmp_path / "pq"))
    assert proc.returncode == 0, proc.stderr
    windows = pq.read_table(tmp_path / "pq" / "windows.parquet").to_pylist()
    speaker = [w for w in windows if w["name"] == "speaker.mpg"]
    lines = (archive / "speaker.mpg" / "windows.jsonl").read_text().splitlines()
    assert len(speaker) == len(lines) and speaker[0]["source"].endswith("speaker.mpg")
    sidecar = np.load(archive / "speaker.mpg" / "embeddings" / "text.window.npy")
    assert np.allclose(np.array(speaker[0]["embedding"], np.float32), sidecar[0])
    events = pq.read_table(tmp_path / "pq" / "events.parquet").to_pylist()
    assert any(e["type"] == "transcript" and e["name"] == "speaker.mpg" and e["start"] == 0.95 for e in events)
    assert {s["name"] for s in pq.read_table(tmp_path / "pq" / "sources.parquet").to_pylist()} == {
        "speaker.mpg", "signer.mkv"}
    assert not [p for p in (tmp_path / "pq").iterdir() if p.name.startswith(".")]


def test_a_postgresql_index_answers_like_the_sqlite_one(archive, capsys):
    import socket
    import uuid
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", 5432)):
            pytest.skip("needs PostgreSQL on 127.0.0.1:5432")
    from streamfuse.archive.pg_index import PgIndex
    url = f"postgresql://postgres@127.0.0.1:5432/postgres?schema=sf_test_{uuid.uuid4().hex[:8]}"
    index = PgIndex(url)
    try:
        from streamfuse.archive.index import open_index
        sq = open_index(archive)
        keys = dict(sq.db.execute("SELECT name, key FROM sources").fetchall())
        sq.close()
        for name, key in keys.items():
            index.add_result(archive / name, key)
            index.add_result(archive / name, key)  # re-indexing replaces, never duplicates
        assert index.db.execute(f"SELECT count(*) FROM {index.schema}.sources").fetchone()[0] == 2
        for query in ("bin blue", "kitten napping"):
            pg, lite = search(capsys, url, query), search(capsys, archive, query)
            assert [(h["source"], h["start"], h["via"]) for h in pg[:1]] == [(h["source"], h["start"], h["via"])
                                                                              for h in lite[:1]], (pg, lite)
            assert pg[0]["score"] == pytest.approx(lite[0]["score"], abs=0.01)
        typed = search(capsys, url, "bin blue", "--type", "transcript")
        assert typed and all(h["type"] == "transcript" for h in typed)
    finally:
        index.drop()
        index.close()
