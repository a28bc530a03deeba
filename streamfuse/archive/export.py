"""``streamfuse export OUT [-o DIR]``: the archive's index as Parquet files for analysis tools
(pandas, Polars, DuckDB, Spark): ``windows.parquet`` (source, name, start, end, description,
transcript, labels, and the window's ``text.window`` embedding as a list of float32, null when
it has none), ``events.parquet`` (one row per event series: type, start, end, confidence, label,
text) and ``sources.parquet``. Each file is written to a hidden name and renamed into place."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..sinks.results import hidden_name
from .index import Index

_BATCH = 20_000


def export_parquet(index: Index, target: str | Path) -> dict[str, int]:
    """Write the three files into ``target``; returns the rows written per file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    db = index.db
    counts = {}

    def write(name: str, schema: pa.Schema, batches) -> None:
        final = target / name
        tmp = target / hidden_name(name, "tmp")
        rows = 0
        with pq.ParquetWriter(tmp, schema) as writer:
            for batch in batches:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                rows += len(batch)
        tmp.replace(final)
        counts[name] = rows

    def chunks(sql: str, make):
        cur = db.execute(sql)
        while True:
            rows = [make(r) for r in _take(cur, _BATCH)]
            if not rows:
                return
            yield rows

    displays = dict(db.execute("SELECT name, display FROM sources").fetchall())
    has_vec = index.dim is not None

    def window(r):
        wid, name, start, end, desc, transcript, labels = r[:7]
        vec = None
        if has_vec:
            row = db.execute("SELECT embedding FROM window_vec WHERE rowid = ?", (wid,)).fetchone()
            vec = np.frombuffer(row[0], dtype=np.float32).tolist() if row else None
        return {"source": displays.get(name), "name": name, "start": start, "end": end, "description": desc,
                "transcript": transcript, "labels": labels, "embedding": vec}

    write("windows.parquet", pa.schema([
        ("source", pa.string()), ("name", pa.string()), ("start", pa.float64()), ("end", pa.float64()),
        ("description", pa.string()), ("transcript", pa.string()), ("labels", pa.string()),
        ("embedding", pa.list_(pa.float32()))]),
        chunks('SELECT id, name, start, "end", description, transcript, labels FROM windows ORDER BY name, start',
               window))
    write("events.parquet", pa.schema([
        ("source", pa.string()), ("name", pa.string()), ("event_id", pa.string()), ("type", pa.string()),
        ("start", pa.float64()), ("end", pa.float64()), ("confidence", pa.float64()), ("label", pa.string()),
        ("text", pa.string())]),
        chunks('SELECT name, event_id, type, start, "end", confidence, label, text FROM events ORDER BY name, start',
               lambda r: {"source": displays.get(r[0]), "name": r[0], "event_id": r[1], "type": r[2], "start": r[3],
                          "end": r[4], "confidence": r[5], "label": r[6], "text": r[7]}))
    write("sources.parquet", pa.schema([
        ("name", pa.string()), ("source_id", pa.string()), ("source", pa.string()), ("media_seconds", pa.float64())]),
        chunks("SELECT name, source_id, display, media_seconds FROM sources ORDER BY name",
               lambda r: {"name": r[0], "source_id": r[1], "source": r[2], "media_seconds": r[3]}))
    return counts


def _take(cur, n: int) -> list:
    out = []
    for row in cur:
        out.append(row)
        if len(out) >= n:
            break
    return out
