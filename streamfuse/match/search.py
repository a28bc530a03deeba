"""Ranking the windows of result folders against a text (or an image): ``streamfuse match``.

Two paths, and each moment says which one answered (``via``):

* ``image-text``: the result was analysed with ``models.image_text``; the query's text (or
  ``image``) embedding is compared with every embedded frame of each window
  (``embeddings/image_text.frame.<i>``); a window's score is its best frame's cosine similarity,
  and ``frame`` is that frame's time.
* ``audio-text``: the result was analysed with ``models.audio_text`` (CLAP); the query's text
  embedding against each window's audio embedding (``embeddings/audio_text.audio``). With both
  image and audio embeddings, each path is calibrated on its own scores and a window is answered
  by the path in which it stands out most (raw scores of two models are not comparable).
* offline, when neither model was used, with the bundled sentence model (``encoders.text.model``, all-MiniLM-L6-v2): the query
  against each window's ``labels`` (ConSE, Norouzi et al. 2014: the score-weighted mean of the
  sentence embeddings of the window's top ``CONSE_TOP`` label names: COCO objects in view, AudioSet
  sounds heard, zero-shot labels), its ``transcript`` and its ``description``; a window's score is
  the best of the three, ``via`` the one that gave it.

Scores are calibrated per query over all the windows searched (:mod:`.calibrate`): ``z`` says how
far a window stands out from the query's usual score, and ``match`` is ``z >= threshold``. Moments
are returned best first (by ``z``, then ``score``); a window overlapping a better one by half its
length or more is left out (windows overlap, and both halves of one moment would otherwise fill
the list).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, UserInputError
from .calibrate import THRESHOLD, calibrate

#: label names a window's ConSE vector is made of at most
CONSE_TOP = 5


@dataclass(frozen=True)
class Moment:
    """One window that matched: ``[start, end)`` seconds of ``source``; ``score`` the raw
    similarity, ``z`` the calibrated one, ``frame`` the best frame's time (image-text only)."""

    source: str
    start: float
    end: float
    score: float
    z: float
    match: bool
    via: str
    frame: float | None
    index: int
    result: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Result:
    folder: Path
    records: list[dict[str, Any]]
    summary: dict[str, Any]

    def embedding(self, name: str) -> dict[int, np.ndarray] | None:
        vectors = self.folder / "embeddings" / f"{name}.npy"
        if not vectors.is_file():
            return None
        from ..sinks.embeddings import load_embeddings

        rows, index = load_embeddings(self.folder, name)
        return {int(i): np.asarray(rows[n], dtype=np.float32) for n, i in enumerate(index)}

    def configured(self, *keys: str) -> Any:
        node: Any = self.summary.get("config", {})
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node


def is_result(folder: str | os.PathLike[str]) -> bool:
    return (Path(folder) / "windows.jsonl").is_file()


def load_result(folder: str | os.PathLike[str]) -> _Result:
    folder = Path(folder)
    if not is_result(folder):
        raise UserInputError(f"{folder} is not a streamfuse result folder (no windows.jsonl)")
    records = [json.loads(line) for line in (folder / "windows.jsonl").read_text(encoding="utf-8").splitlines() if line]
    summary_file = folder / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {}
    return _Result(folder, records, summary)


def _image_text_model(config: Any, results: list[_Result]):
    from ..encode.foundation.image_text import ImageTextConfig, load_image_text
    from ..spec import pick_device
    from ..encode.foundation import _hf
    from ..encode.foundation.image_text import ImageTextEncoder

    section = config.encoders.section("image_text") if config is not None else ImageTextConfig()
    model = section.model or next((r.configured("encoders", "image_text", "model") for r in results
                                   if r.configured("encoders", "image_text", "model")), None)
    if not model:
        raise ConfigError("these results have image embeddings but no models.image_text is known to embed the "
                          "query; set models.image_text to the model they were analysed with")
    section = ImageTextConfig(model=model, device=section.device, threads=section.threads)
    return load_image_text(section, pick_device(section, ImageTextEncoder.spec, _hf.cuda_available))


def _audio_text_model(config: Any, results: list[_Result]):
    from ..encode.foundation import _hf
    from ..encode.foundation.audio_text import AudioTextConfig, AudioTextEncoder, load_audio_text
    from ..spec import pick_device

    section = config.encoders.section("audio_text") if config is not None else AudioTextConfig()
    model = section.model or next((r.configured("encoders", "audio_text", "model") for r in results
                                   if r.configured("encoders", "audio_text", "model")), None)
    if not model:
        raise ConfigError("these results have audio embeddings but no models.audio_text is known to embed the "
                          "query; set models.audio_text to the model they were analysed with")
    section = AudioTextConfig(model=model, device=section.device, threads=section.threads)
    return load_audio_text(section, pick_device(section, AudioTextEncoder.spec, _hf.cuda_available))


def _audio_text_scores(results: list[_Result], query_vector: np.ndarray) -> list[tuple[_Result, dict, float, float | None]]:
    out = []
    for r in results:
        vectors = r.embedding("audio_text.audio") or {}
        for record in r.records:
            vector = vectors.get(record["index"])
            if vector is not None:
                out.append((r, record, float(vector @ query_vector), None))
    return out


def _text_embedder(config: Any):
    from ..encode.text.embed import TextEmbedder

    model = config.encoders.section("text").model if config is not None else "bundled:all-MiniLM-L6-v2"
    return TextEmbedder(model)


def _image_text_scores(results: list[_Result], query_vector: np.ndarray) -> list[tuple[_Result, dict, float, float | None]]:
    out = []
    for r in results:
        frames = {}
        for i in range(256):
            vectors = r.embedding(f"image_text.frame.{i}")
            if vectors is None:
                break
            frames[i] = vectors
        for record in r.records:
            times = (record.get("video", {}).get("image_text") or {}).get("frames") or []
            best = None
            for i, time in enumerate(times):
                vector = frames.get(i, {}).get(record["index"])
                if vector is not None:
                    score = float(vector @ query_vector)
                    if best is None or score > best[0]:
                        best = (score, float(time))
            if best is not None:
                out.append((r, record, best[0], best[1]))
    return out


def _label_groups(record: dict[str, Any]) -> list[list[tuple[str, float]]]:
    """The window's label names with weights, one group per source (ConSE is taken per group, so
    that what was heard does not dilute what was seen): COCO objects in view (1.0 each), and each
    encoder's labels with their scores; the best ``CONSE_TOP`` of each."""
    groups = []
    objects = (record.get("video", {}).get("objects") or {}).get("objects") or {}
    seen = [(str(name), 1.0) for name, n in objects.items() if n]
    if seen:
        groups.append(seen[:CONSE_TOP])
    for labels in (record.get("labels") or {}).values():
        named = sorted(((str(name), float(score)) for name, score in labels if float(score) > 0), key=lambda kv: -kv[1])
        if named:
            groups.append(named[:CONSE_TOP])
    return groups


def _offline_scores(results: list[_Result], query: str, embedder: Any) -> list[tuple[_Result, dict, float, str]]:
    cache: dict[str, np.ndarray] = {}

    def vectors(texts: list[str]) -> list[np.ndarray]:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, embedder.embed(missing)))
        return [cache[t] for t in texts]

    (q,) = vectors([query])
    out = []
    for r in results:
        for record in r.records:
            scores: dict[str, float] = {}
            for labels in _label_groups(record):
                weights = np.array([w for _, w in labels], np.float32)
                mean = (np.stack(vectors([n for n, _ in labels])) * weights[:, None]).sum(0) / weights.sum()
                norm = float(np.linalg.norm(mean))
                if norm > 0:
                    scores["labels"] = max(scores.get("labels", -1.0), float(mean @ q / norm))
            transcript = (record.get("text") or {}).get("transcript") or ""
            if transcript.strip():
                scores["transcript"] = float(vectors([transcript])[0] @ q)
            description = record.get("description") or ""
            if description.strip():
                scores["description"] = float(vectors([description])[0] @ q)
            if scores:
                via = max(scores, key=lambda k: scores[k])
                out.append((r, record, scores[via], via))
    return out


def _overlaps(a: Moment, b: Moment) -> bool:
    if a.result != b.result or a.source != b.source:
        return False
    shared = min(a.end, b.end) - max(a.start, b.start)
    return shared >= 0.5 * min(a.end - a.start, b.end - b.start)


def search(folders: Sequence[str | os.PathLike[str]], query: str | None = None, *, image: np.ndarray | None = None,
           config: Any = None, k: int = 5, threshold: float = THRESHOLD) -> list[Moment]:
    """The ``k`` best moments of the result ``folders`` for ``query`` (or ``image``, an HxWx3 uint8
    RGB picture: image-image similarity), best first (see the module doc)."""
    if (query is None) == (image is None):
        raise ConfigError("match needs either a text query or --image PATH")
    results = [load_result(f) for f in folders]
    has_images = bool(results) and all((r.folder / "embeddings" / "image_text.image.npy").is_file() for r in results)
    if image is not None and not has_images:
        raise ConfigError("matching by --image needs results analysed with models.image_text (image embeddings); "
                          "set models.image_text to a model id or a folder")
    has_audio = query is not None and bool(results) and all(
        (r.folder / "embeddings" / "audio_text.audio.npy").is_file() for r in results)
    paths: list[list[tuple[_Result, dict, float, str, float | None]]] = []
    if has_images:
        model = _image_text_model(config, results)
        vector = model.images([image])[0] if image is not None else model.texts([query])[0]  # type: ignore[list-item]
        paths.append([(r, rec, s, "image-text", frame) for r, rec, s, frame in _image_text_scores(results, vector)])
    if has_audio:
        vector = _audio_text_model(config, results).texts([query])[0]  # type: ignore[list-item]
        paths.append([(r, rec, s, "audio-text", None) for r, rec, s, _ in _audio_text_scores(results, vector)])
    if not paths:
        paths.append([(r, rec, s, via, None) for r, rec, s, via in
                      _offline_scores(results, query or "", _text_embedder(config))])
    # each path calibrated on its own scores; a window answered by the path where it stands out most
    best: dict[tuple[str, int], Moment] = {}
    for rows in paths:
        cal = calibrate([s for _, _, s, _, _ in rows])
        for r, rec, s, via, frame in rows:
            m = Moment(rec["source"], float(rec["start"]), float(rec["end"]), round(s, 4), round(cal.z(s), 2),
                       cal.z(s) >= threshold, via, frame, int(rec["index"]), str(r.folder))
            key = (m.result, m.index)
            if key not in best or m.z > best[key].z:
                best[key] = m
    moments = list(best.values())
    moments.sort(key=lambda m: (-m.z, -m.score, m.result, m.start))
    picked: list[Moment] = []
    for m in moments:
        if len(picked) >= k:
            break
        if not any(_overlaps(m, p) for p in picked):
            picked.append(m)
    return picked
