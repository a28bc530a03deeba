"""Ranked moments from an archive's index (:mod:`.index`) for a text query.

Two paths answer, and a moment keeps the better of its scores:

* **meaning**: the query is embedded with the same sentence model as the windows' text
  (``text.window``) and the nearest windows come from ``sqlite-vec`` (cosine similarity, 0-1);
* **words**: FTS5 finds windows whose description, transcript or sound/object labels, and events
  whose type, label or text, contain the query's words; their score is lifted from the meaning
  score ``m`` to ``m + (1 - m) * share / 2``, ``share`` being the part of the query's words present
  (so a window naming every word outranks a loose paraphrase, and meaning orders word matches).

``via`` says which answered: ``transcript``, ``description``, ``labels``, ``event`` or ``meaning``.
Moments of one source that overlap (or lie within half a second) are merged into the best of them. ``type`` keeps events of that
type (the moments are the events' spans); ``source`` keeps inputs whose name or path contains it;
``since``/``until`` keep moments inside that media-time range (seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .index import STOP_WORDS, Hit, Index, fts_query, words

_VEC_K_MAX = 4096  # sqlite-vec's largest k
_NEAR = 0.5  # seconds: moments of one source closer than this are one moment


@dataclass
class Query:
    text: str
    k: int = 10
    type: str | None = None
    source: str | None = None
    since: float | None = None
    until: float | None = None


def _keep(q: Query, name: str, display: str, start: float, end: float) -> bool:
    if q.source and q.source.lower() not in name.lower() and q.source.lower() not in (display or "").lower():
        return False
    if q.since is not None and end <= q.since:
        return False
    if q.until is not None and start >= q.until:
        return False
    return True


def search(index: Index, q: Query, embed: Callable[[str], np.ndarray] | None = None) -> list[Hit]:
    db = index.db
    displays = dict(db.execute("SELECT name, display FROM sources").fetchall())
    qwords = set(words(q.text)) - STOP_WORDS or set(words(q.text))
    cands: dict[tuple[str, int], list[Any]] = {}  # (table, id) -> [score, via]

    def offer(ref: tuple[str, int], score: float, via: str) -> None:
        if ref not in cands or score > cands[ref][0]:
            cands[ref] = [score, via]

    want = max(q.k * 8, 64)
    meaning: dict[int, float] = {}  # window id -> cosine similarity to the query
    vec = None
    if embed is not None and index.dim is not None and q.text.strip():
        vec = np.ascontiguousarray(embed(q.text), dtype=np.float32).tobytes()
        k = min(_VEC_K_MAX, want * (4 if (q.source or q.since is not None or q.until is not None or q.type) else 1))
        for wid, distance in db.execute("SELECT rowid, distance FROM window_vec WHERE embedding MATCH ? AND k = ?",
                                        (vec, k)):
            meaning[wid] = max(0.0, 1.0 - float(distance))
            offer(("w", wid), meaning[wid], "meaning")
    match = fts_query(q.text)
    if match and qwords:
        found = list(db.execute("SELECT body, kind, ref FROM text_fts WHERE text_fts MATCH ? ORDER BY rank LIMIT ?",
                                (match, want * 2)))
        missing = [int(ref) for _, kind, ref in found if kind != "event" and int(ref) not in meaning]
        if vec is not None and missing:  # the meaning of word-matched windows too, to rank among them
            for wid in missing:  # one point lookup each: ~0.01 ms, where vec0 scans for "rowid IN (...)"
                row = db.execute("SELECT vec_distance_cosine(embedding, ?) FROM window_vec WHERE rowid = ?",
                                 (vec, wid)).fetchone()
                if row is not None:
                    meaning[wid] = max(0.0, 1.0 - float(row[0]))
        for body, kind, ref in found:
            share = len(qwords & set(words(body))) / len(qwords)
            base = meaning.get(int(ref), 0.0) if kind != "event" else 0.0
            # words lift the meaning score towards 1 by the share of the query's words present
            offer(("e" if kind == "event" else "w", int(ref)), base + (1.0 - base) * 0.5 * share, kind)

    hits: list[Hit] = []
    wins = [i for t, i in cands if t == "w"]
    evs = [i for t, i in cands if t == "e"]
    rows_w = _rows(db, "SELECT id, name, start, \"end\", description FROM windows WHERE id IN ({})", wins)
    rows_e = _rows(db, "SELECT id, name, start, \"end\", type, label, text FROM events WHERE id IN ({})", evs)
    if q.type:
        # moments are events of this type: those matched by words, and those overlapping matched windows
        for wid, (name, start, end, _desc) in rows_w.items():
            score, via = cands[("w", wid)]
            for eid, ename, estart, eend, etype, label, text in db.execute(
                    "SELECT id, name, start, \"end\", type, label, text FROM events WHERE name = ? AND type = ? "
                    "AND start < ? AND \"end\" >= ?", (name, q.type, end, start)):
                rows_e.setdefault(eid, (ename, estart, eend, etype, label, text))
                offer(("e", eid), score, via)
        for eid, (name, start, end, etype, label, text) in rows_e.items():
            if etype != q.type or not _keep(q, name, displays.get(name, ""), start, end):
                continue
            score, via = cands[("e", eid)]
            hits.append(Hit(displays.get(name) or name, start, end, score, via,
                            _event_text(etype, label, text), name=name, type=etype))
    else:
        for wid, (name, start, end, desc) in rows_w.items():
            if _keep(q, name, displays.get(name, ""), start, end):
                score, via = cands[("w", wid)]
                hits.append(Hit(displays.get(name) or name, start, end, score, via, desc, name=name))
        for eid, (name, start, end, etype, label, text) in rows_e.items():
            if _keep(q, name, displays.get(name, ""), start, end):
                score, via = cands[("e", eid)]
                hits.append(Hit(displays.get(name) or name, start, end, score, via,
                                _event_text(etype, label, text), name=name, type=etype))
    return _merge(hits, q.k)


def _event_text(etype: str, label: str | None, text: str | None) -> str:
    return etype + (f" ({label})" if label and label != etype else "") + (f": {text}" if text else "")


def _rows(db, sql: str, ids: list[int]) -> dict[int, tuple]:
    out: dict[int, tuple] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for row in db.execute(sql.format(",".join("?" * len(part))), part):
            out[row[0]] = tuple(row[1:])
    return out


def _merge(hits: list[Hit], k: int) -> list[Hit]:
    """Best first; a moment overlapping a better one of the same source (and type) is dropped."""
    hits.sort(key=lambda h: (-h.score, h.name, h.start))
    kept: list[Hit] = []
    for h in hits:
        if any(o.name == h.name and h.start < o.end + _NEAR and o.start < h.end + _NEAR for o in kept):
            continue
        kept.append(h)
        if len(kept) >= k:
            break
    return kept
