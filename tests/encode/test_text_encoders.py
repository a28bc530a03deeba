"""Speech recognition and text embeddings on the real bundled models and real recorded speech.

Media comes from ``../shared/media`` (relative to the project root); a test skips, saying so, when
its file is missing. Each model loads once per process (the loaders cache them).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from fractions import Fraction  # noqa: E402
from pathlib import Path  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from streamfuse.encode.text.asr import AsrConfig  # noqa: E402
from streamfuse.encode.text.embed import TextConfig  # noqa: E402
from streamfuse.decode.payloads import AudioClip, TextSegment  # noqa: E402
from streamfuse.encode.text import AsrEncoder, TextEmbedder, TextEncoder, locate_asr_model  # noqa: E402
from streamfuse.encode.text.models import load_vad  # noqa: E402
from streamfuse.encode.text.speech_gate import SpeechGate  # noqa: E402
from streamfuse.errors import ModelLoadError  # noqa: E402
from streamfuse.testing.wer import normalize_words, word_error_rate  # noqa: E402
from streamfuse.testing.windows import windows_from_audio  # noqa: E402
from streamfuse.timebase import SAMPLE_RATE  # noqa: E402

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def media(relative: str) -> Path:
    path = MEDIA / relative
    if not path.is_file():
        pytest.skip(f"real media {path} is missing (it lives in ../shared/media beside the project)")
    return path


def decode_16k(path: Path) -> np.ndarray:
    """The first audio stream as 16 kHz mono float32, as the decoder delivers it."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            out += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.float32)


def run(encoder, windows):
    return [encoder(w) for w in windows]


def transcripts(features):
    return [d for f in features for d in f.detections]


def with_cues(windows, cues):
    """Give each window the subtitle cues that overlap it."""
    out = []
    for w in windows:
        mine = tuple(c for c in cues if c.start < w.end and c.end > w.start)
        out.append(w.copy(segments=mine, has_text=bool(mine)))
    return out


@pytest.fixture(scope="module")
def asr_ready():
    """Loads Whisper tiny.en and the VAD once; every AsrEncoder made after shares them."""
    AsrEncoder(AsrConfig())


@pytest.fixture(scope="module")
def jfk():
    return decode_16k(media("jfk/jfk.flac"))


@pytest.fixture(scope="module")
def jfk_run(asr_ready, jfk):
    encoder = AsrEncoder(AsrConfig())
    features = run(encoder, windows_from_audio(jfk, source_id="jfk"))
    return encoder, features


# ------------------------------------------------------------------ speech recognition


def test_jfk_transcript_is_accurate_and_word_times_are_media_times(jfk_run, jfk):
    encoder, features = jfk_run
    found = transcripts(features)
    text = " ".join(d.text for d in found)
    assert word_error_rate(JFK_TEXT, text) <= 0.15, text
    words = [w for d in found for w in d.evidence["words"]]
    americans = [w for w in words if normalize_words(w[2]) == ["americans"]]
    assert len(americans) == 1, words
    assert abs(americans[0][0] - 1.8) <= 0.3, americans

    duration = Fraction(len(jfk), SAMPLE_RATE)
    for d in found:
        assert d.kind == "transcript" and d.evidence["origin"] == "asr"
        assert 0 < d.confidence <= 1
        assert 0 <= d.start <= d.end <= duration
        assert all(float(d.start) - 1e-6 <= s <= e <= float(d.end) + 1e-6 for s, e, _, _ in d.evidence["words"])
    assert len({d.start for d in found}) == len(found)  # overlapping windows never repeat an utterance


def test_each_sample_is_transcribed_at_most_once_and_summaries_add_up(jfk_run, jfk):
    encoder, features = jfk_run
    asr_seconds = sum(f.summary["asr_seconds"] for f in features)
    assert 0 < asr_seconds <= len(jfk) / SAMPLE_RATE  # windows overlap 2x; the audio is not
    assert asr_seconds == pytest.approx(encoder.stats["audio_seconds"], abs=0.01)
    assert " ".join(f.summary["text"] for f in features if f.summary["text"]) == \
        " ".join(d.text for d in transcripts(features))
    for f in features:
        assert f.encoder == "asr" and f.modality == "text"
        assert bool(f.summary["text"]) == bool(f.detections)


def test_grid_sentence_is_close_and_timed_on_the_speech(asr_ready):
    samples = decode_16k(media("grid/bbaf2n.mpg"))
    found = transcripts(run(AsrEncoder(AsrConfig()), windows_from_audio(samples, source_id="grid")))
    assert found, "no transcript for a spoken sentence"
    text = " ".join(d.text for d in found)
    assert word_error_rate("bin blue at f two now", text) <= 0.5, text
    assert {"f", "2", "now"} <= set(normalize_words(text)), text
    # the corpus alignment puts the speech at 0.95-2.12 s
    assert 0.95 - 0.6 <= float(found[0].start) <= 0.95 + 0.3
    assert 2.12 - 0.3 <= float(found[-1].end) <= 2.12 + 0.6


def test_digital_silence_never_reaches_whisper(asr_ready):
    path = MEDIA / "intel" / "car-detection.mp4"
    samples = decode_16k(path) if path.is_file() else np.zeros(30 * SAMPLE_RATE, np.float32)
    assert np.abs(samples).max() == 0.0  # the file's audio track is pure digital silence
    encoder = AsrEncoder(AsrConfig())
    features = run(encoder, windows_from_audio(samples, source_id="silence"))
    assert transcripts(features) == []
    assert all(f.summary == {"text": "", "asr_seconds": 0.0} for f in features)
    assert encoder.stats["utterances"] == 0 and encoder.stats["audio_seconds"] == 0


def test_audio_marked_missing_is_not_transcribed(asr_ready, jfk):
    # every clip says its samples are padding; they are left as speech so that only ``missing`` stops it
    windows = [w.copy(audio=AudioClip(w.audio.start, w.audio.samples, missing=((w.audio.start, w.audio.end),)))
               for w in windows_from_audio(jfk, source_id="gap")]
    encoder = AsrEncoder(AsrConfig())
    assert transcripts(run(encoder, windows)) == [] and encoder.stats["utterances"] == 0


def test_covering_subtitles_skip_recognition(asr_ready, jfk):
    cue = TextSegment(Fraction(0), Fraction(11), JFK_TEXT, origin="subtitle")
    encoder = AsrEncoder(AsrConfig(prefer="subtitles"))
    features = run(encoder, with_cues(windows_from_audio(jfk, source_id="subs"), [cue]))
    assert transcripts(features) == []
    assert encoder.stats["utterances"] == 0


def test_subtitles_leave_gaps_for_recognition_to_fill(asr_ready, jfk):
    # the cue covers "And so my fellow Americans, ask not" (speech to about 4.4 s); the rest is a gap
    cue = TextSegment(Fraction(0), Fraction(46, 10), "And so my fellow Americans, ask not", origin="subtitle")
    windows = with_cues(windows_from_audio(jfk, source_id="subs"), [cue])
    found = transcripts(run(AsrEncoder(AsrConfig(prefer="subtitles")), windows))
    text = normalize_words(" ".join(d.text for d in found))
    assert "country" in text and "americans" not in text, text
    assert all(d.start >= Fraction(46, 10) - Fraction(1, 2) for d in found)

    # preferring recognition transcribes everything, cues or not
    found = transcripts(run(AsrEncoder(AsrConfig(prefer="asr")), windows))
    assert "americans" in normalize_words(" ".join(d.text for d in found))


def test_long_speech_is_cut_into_bounded_utterances(asr_ready, jfk):
    encoder = AsrEncoder(AsrConfig(max_utterance=4.0))
    features = run(encoder, windows_from_audio(jfk, source_id="long"))
    found = transcripts(features)
    assert encoder.stats["utterances"] >= 3
    assert all(f.summary["asr_seconds"] <= 2 * 4.0 for f in features)
    assert all(d.end - d.start <= 4 for d in found)
    assert word_error_rate(JFK_TEXT, " ".join(d.text for d in found)) <= 0.35


def test_bad_model_path_names_the_model_and_what_to_do(tmp_path):
    missing = tmp_path / "no-such-whisper"
    with pytest.raises(ModelLoadError, match="no-such-whisper") as info:
        AsrEncoder(AsrConfig(model=str(missing)))
    assert isinstance(info.value, RuntimeError)
    assert "bundled:tiny.en" in str(info.value)

    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="model.bin"):
        AsrEncoder(AsrConfig(model=str(empty)))
    broken = tmp_path / "broken-whisper"
    broken.mkdir()
    bundled = Path(locate_asr_model("bundled:tiny.en").require())
    for name in ("config.json", "tokenizer.json"):
        (broken / name).write_bytes((bundled / name).read_bytes())
    (broken / "model.bin").write_bytes(b"not a model" * 10)
    with pytest.raises(ModelLoadError, match="broken-whisper.*failed to load"):
        AsrEncoder(AsrConfig(model=str(broken)))
    with pytest.raises(ModelLoadError, match="hf download"):
        AsrEncoder(AsrConfig(model="nobody/not-a-cached-model"))
    with pytest.raises(ModelLoadError, match="no-such-minilm"):
        TextEncoder(TextConfig(model=str(tmp_path / "no-such-minilm")))


def test_models_listing_shows_both_bundled_text_models_offline():
    from streamfuse.config import load_config
    from streamfuse.models import describe_models

    rows = {r["stage"]: r for r in describe_models(load_config())}
    assert rows["asr"]["model"] == "bundled:tiny.en" and rows["text"]["model"] == "bundled:all-MiniLM-L6-v2"
    assert {"asr", "asr.vad", "text"} <= rows.keys()
    for name in ("asr", "asr.vad", "text"):
        assert rows[name]["available"] is True and Path(rows[name]["location"]).exists()
    bad = {r["stage"]: r for r in describe_models(load_config(sets=["encoders.asr.model=/nowhere/whisper"]))}
    assert bad["asr"]["available"] is False and "/nowhere/whisper" in bad["asr"]["how"]


# ------------------------------------------------------------------ the speech gate alone (no Whisper)


def test_speech_gate_does_not_depend_on_how_the_stream_is_split(jfk):
    def utterances(pieces):
        gate = SpeechGate(load_vad())
        out, at = [], 0
        for n in pieces:
            # each push repeats the previous 5000 samples, as overlapping windows do
            start = max(0, at - 5000)
            out += gate.push(start, jfk[start : at + n])
            at += n
        return out + gate.flush()

    whole = utterances([len(jfk)])
    rng = np.random.default_rng(7)
    cuts = np.diff(np.concatenate([[0], np.sort(rng.choice(len(jfk), 12, replace=False)), [len(jfk)]]))
    split = utterances([int(c) for c in cuts if c])
    assert whole and [(u.start, u.end) for u in split] == [(u.start, u.end) for u in whole]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(whole, split))
    # speech starts near 0.3 s; with 0.4 s of padding the utterance starts at the stream's start
    assert whole[0].start == 0 and whole[-1].end <= len(jfk)


# ------------------------------------------------------------------ text embeddings


@pytest.fixture(scope="module")
def embedder():
    return TextEmbedder()


def test_embedder_gives_unit_vectors_that_rank_similar_sentences_first(embedder):
    vectors = embedder.embed(["A man is playing a guitar.", "Someone plays an instrument.",
                              "The stock market fell sharply today."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3, (similar, unrelated)
    assert embedder.embed([]).shape == (0, 384)


def test_text_encoder_embeds_window_text_once_per_text(embedder, monkeypatch):
    encoder = TextEncoder(TextConfig())
    calls = []
    real = encoder.embedder.embed
    monkeypatch.setattr(encoder.embedder, "embed", lambda texts: calls.append(list(texts)) or real(texts))
    cue = TextSegment(Fraction(1, 2), Fraction(5, 2), "ask not what your country can do for you")
    windows = windows_from_audio(np.zeros(4 * SAMPLE_RATE, np.float32), source_id="text")
    windows = with_cues(windows, [cue])
    features = [encoder(w) for w in windows]

    assert features[0].summary == {"text": cue.text}
    assert features[0].embeddings["text"].shape == (384,)
    # the same cue in two overlapping windows
    assert np.array_equal(features[0].embeddings["text"], features[1].embeddings["text"])
    assert calls == [[cue.text]]  # embedded once
    silent = features[-1]  # [3, 5) has no cue
    assert silent.summary == {"text": ""} and not silent.embeddings
    extra = encoder(windows[-1], extra=["a spoken sentence"])
    assert extra.summary == {"text": "a spoken sentence"} and extra.embeddings["text"].shape == (384,)
