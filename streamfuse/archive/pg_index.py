"""The search index in PostgreSQL, for an archive shared by many machines
(``analyze --index-db postgresql://...``, ``search --index postgresql://...``).

The same rows as the SQLite index (:mod:`.index`): sources, windows (with their ``text.window``
embedding as ``real[]``), event series, and ``tsvector`` columns (the ``simple`` configuration, no
stemming, as FTS5) with GIN indexes. PostgreSQL without pgvector has no vector index, so meaning is
ranked exactly in SQL (a dot product of unit vectors over every window). Scores, ``via`` and the
merging of nearby moments are those of :mod:`.search`. ``?schema=NAME`` in the URL picks the schema
(default ``streamfuse``); the URL's credentials are never printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from ..errors import ConfigError, SourceUnreachableError
from ..events.cloudevents import redact
from .index import STOP_WORDS, Hit, _embeddings, _jsonl, _labels, words
from .search import Query, _event_text, _keep, _merge

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.sources (name TEXT PRIMARY KEY, source_id TEXT, display TEXT, key TEXT,
                                        media_seconds DOUBLE PRECISION);
CREATE TABLE IF NOT EXISTS {s}.windows (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, idx INTEGER,
    start DOUBLE PRECISION, "end" DOUBLE PRECISION, description TEXT, transcript TEXT, labels TEXT, embedding REAL[],
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', coalesce(description, '') || ' ' ||
        coalesce(transcript, '') || ' ' || coalesce(labels, ''))) STORED);
CREATE INDEX IF NOT EXISTS windows_name ON {s}.windows (name, start);
CREATE INDEX IF NOT EXISTS windows_tsv ON {s}.windows USING GIN (tsv);
CREATE TABLE IF NOT EXISTS {s}.events (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, event_id TEXT, type TEXT,
    start DOUBLE PRECISION, "end" DOUBLE PRECISION, confidence DOUBLE PRECISION, text TEXT, label TEXT,
    tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', replace(coalesce(type, ''), '.', ' ') || ' ' ||
        coalesce(label, '') || ' ' || coalesce(text, ''))) STORED);
CREATE INDEX IF NOT EXISTS events_name ON {s}.events (name, start);
CREATE INDEX IF NOT EXISTS events_tsv ON {s}.events USING GIN (tsv);
"""


def is_pg_url(text: str | None) -> bool:
    return bool(text) and str(text).split("://", 1)[0].lower() in ("postgresql", "postgres")


class PgIndex:
    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - a pinned dependency
            raise ConfigError("a PostgreSQL index needs psycopg; install streamfuse's dependencies") from None
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", "streamfuse")
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
            raise ConfigError(f"bad schema {schema!r} in {redact(url)}: lower-case letters, digits and _")
        self.schema = schema
        self.display = redact(url)
        try:
            self.db = psycopg.connect(urlunsplit(parts._replace(query=urlencode(query))), connect_timeout=5,
                                      autocommit=True)
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split())[:200]
            for secret in (parts.password,):
                if secret:
                    reason = reason.replace(secret, "***")
            raise SourceUnreachableError(f"cannot use the index at {self.display} ({reason}); "
                                         "check the URL and that PostgreSQL is running") from None
        with self.db.transaction():
            self.db.execute(_SCHEMA.format(s=schema))
        self.dim = self.db.execute(f"SELECT max(cardinality(embedding)) FROM {schema}.windows").fetchone()[0]

    def has(self, name: str, key: str) -> bool:
        row = self.db.execute(f"SELECT key FROM {self.schema}.sources WHERE name = %s", (name,)).fetchone()
        return bool(row and row[0] == key)

    def remove(self, name: str) -> None:
        for table in ("windows", "events", "sources"):
            self.db.execute(f"DELETE FROM {self.schema}.{table} WHERE name = %s", (name,))

    def add_result(self, folder: str | Path, key: str) -> None:
        """(Re)index the committed result ``folder`` in one transaction."""
        import json
        folder = Path(folder)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        name = folder.name
        vectors, rows_of = _embeddings(folder)
        s = self.schema
        with self.db.transaction():
            self.remove(name)
            self.db.execute(f"INSERT INTO {s}.sources VALUES (%s, %s, %s, %s, %s)",
                            (name, summary.get("id"), summary.get("source"), key, summary.get("media_seconds")))
            with self.db.cursor() as cur:
                rows = []
                for r in _jsonl(folder / "windows.jsonl"):
                    row = rows_of.get(r.get("index"))
                    vec = vectors[row].astype(float).tolist() if vectors is not None and row is not None else None
                    rows.append((name, r.get("index"), r["start"], r["end"], r.get("description") or "",
                                 (r.get("text") or {}).get("transcript") or "", _labels(r), vec))
                cur.executemany(f'INSERT INTO {s}.windows (name, idx, start, "end", description, transcript, labels, '
                                f"embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
                events = []
                for e in _jsonl(folder / "events.jsonl"):
                    d = e.get("data") or {}
                    if d.get("phase") in ("end", "instant"):
                        events.append((name, d.get("event_id") or e.get("id"), str(e.get("type", "")).removeprefix(
                            "streamfuse."), d.get("start"), d.get("end"), d.get("confidence"), d.get("text"),
                            d.get("label")))
                cur.executemany(f'INSERT INTO {s}.events (name, event_id, type, start, "end", confidence, text, label) '
                                f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", events)
        if vectors is not None:
            self.dim = self.dim or vectors.shape[1]

    def search(self, q: Query, embed: Callable[[str], np.ndarray] | None = None) -> list[Hit]:
        s = self.schema
        db = self.db
        displays = dict(db.execute(f"SELECT name, display FROM {s}.sources").fetchall())
        qwords = set(words(q.text)) - STOP_WORDS or set(words(q.text))
        want = max(q.k * 8, 64)
        meaning: dict[int, float] = {}
        cands: dict[tuple[str, int], tuple[float, str]] = {}
        vec = None
        if embed is not None and self.dim and q.text.strip():
            vec = np.asarray(embed(q.text), dtype=float).tolist()
            for wid, sim in db.execute(  # exact: every window's dot product with the query (unit vectors)
                    f"SELECT id, (SELECT sum(a::float8 * b) FROM unnest(embedding, %s::float8[]) AS t(a, b)) AS sim "
                    f"FROM {s}.windows WHERE embedding IS NOT NULL ORDER BY sim DESC LIMIT %s", (vec, want)):
                meaning[wid] = max(0.0, float(sim))
                cands[("w", wid)] = (meaning[wid], "meaning")
        terms = [re.sub(r"\W", "", w) for w in qwords if w not in STOP_WORDS]
        terms = [t for t in terms if t]
        if terms:
            tsq = " | ".join(terms)
            found = list(db.execute(f"SELECT 'w', id, description, transcript, labels FROM {s}.windows "
                                    f"WHERE tsv @@ to_tsquery('simple', %s) LIMIT %s", (tsq, want * 2)))
            found += list(db.execute(f"SELECT 'e', id, replace(type, '.', ' ') || ' ' || coalesce(label, '') || ' ' || "
                                     f"coalesce(text, ''), '', '' FROM {s}.events "
                                     f"WHERE tsv @@ to_tsquery('simple', %s) LIMIT %s", (tsq, want * 2)))
            missing = [i for t, i, *_ in found if t == "w" and i not in meaning]
            if vec is not None and missing:
                for wid, sim in db.execute(
                        f"SELECT id, (SELECT sum(a::float8 * b) FROM unnest(embedding, %s::float8[]) AS t(a, b)) "
                        f"FROM {s}.windows WHERE id = ANY(%s) AND embedding IS NOT NULL", (vec, missing)):
                    meaning[wid] = max(0.0, float(sim))
            for table, ref, *fields in found:
                best = None
                for kind, body in zip(("description", "transcript", "labels") if table == "w" else ("event",), fields):
                    share = len(qwords & set(words(body))) / len(qwords)
                    if share and (best is None or share > best[0]):
                        best = (share, kind)
                if best is None:
                    continue
                base = meaning.get(ref, 0.0) if table == "w" else 0.0
                score = base + (1.0 - base) * 0.5 * best[0]
                if (table, ref) not in cands or score > cands[(table, ref)][0]:
                    cands[(table, ref)] = (score, best[1])
        hits: list[Hit] = []
        wins = [i for t, i in cands if t == "w"]
        evs = [i for t, i in cands if t == "e"]
        if q.type:
            rows = db.execute(f'SELECT e.id, e.name, e.start, e."end", e.type, e.label, e.text, w.id FROM {s}.events e '
                              f'JOIN {s}.windows w ON w.name = e.name AND e.start < w."end" AND e."end" >= w.start '
                              f"WHERE e.type = %s AND (w.id = ANY(%s) OR e.id = ANY(%s))", (q.type, wins, evs))
            best_e: dict[int, tuple] = {}
            for eid, name, start, end, etype, label, text, wid in rows:
                score, via = max(cands.get(("w", wid), (0.0, "")), cands.get(("e", eid), (0.0, "")))
                if score and (eid not in best_e or score > best_e[eid][0]):
                    best_e[eid] = (score, via, name, start, end, etype, label, text)
            for score, via, name, start, end, etype, label, text in best_e.values():
                if _keep(q, name, displays.get(name, ""), start, end):
                    hits.append(Hit(displays.get(name) or name, start, end, score, via,
                                    _event_text(etype, label, text), name=name, type=etype))
            return _merge(hits, q.k)
        for wid, name, start, end, desc in db.execute(
                f'SELECT id, name, start, "end", description FROM {s}.windows WHERE id = ANY(%s)', (wins,)):
            if _keep(q, name, displays.get(name, ""), start, end):
                score, via = cands[("w", wid)]
                hits.append(Hit(displays.get(name) or name, start, end, score, via, desc, name=name))
        for eid, name, start, end, etype, label, text in db.execute(
                f'SELECT id, name, start, "end", type, label, text FROM {s}.events WHERE id = ANY(%s)', (evs,)):
            if _keep(q, name, displays.get(name, ""), start, end):
                score, via = cands[("e", eid)]
                hits.append(Hit(displays.get(name) or name, start, end, score, via, _event_text(etype, label, text),
                                name=name, type=etype))
        return _merge(hits, q.k)

    def drop(self) -> None:
        """Remove the whole schema (tests)."""
        with self.db.transaction():
            self.db.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def close(self) -> None:
        self.db.close()


def open_any(location: str) -> Any:
    """A :class:`PgIndex` for a PostgreSQL URL, else the SQLite index at ``location``."""
    if is_pg_url(location):
        return PgIndex(location)
    from .index import Index
    return Index(location)
