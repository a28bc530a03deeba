"""``streamfuse report OUT``: a self-contained HTML timeline per analysed input, and a summary page.

Pages go to ``OUT/report/``: ``index.html`` (every input, linking its page) and one page per input
with lanes of events over media time (a series drawn once, from its start to its end), key-frame
thumbnails, the audio level and the top sound label per window as strips, the transcript, the
window descriptions and a search box that filters all of them. A click on an event shows its
time, confidence and evidence.

Self-contained: styles, script, data and thumbnails (JPEG, base64) are inside each page; pages link
only to each other. Nothing outside OUT is linked or served (the input's path is shown as text).
Every string from results reaches the page as JSON read by the script and set with ``textContent``,
never as markup.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from pathlib import Path
from typing import Any

from ..sinks.results import hidden_name

log = logging.getLogger(__name__)

REPORT_DIR = "report"
MAX_THUMBS = 16
THUMB_WIDTH = 160
_ASSETS = Path(__file__).with_name("report_assets")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _series(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per event series (start/update/end sharing an ``event_id``) or instant event."""
    rows: dict[str, dict[str, Any]] = {}
    for e in events:
        d = e.get("data") or {}
        key = d.get("event_id") or e.get("id")
        kind = str(e.get("type", "")).removeprefix("streamfuse.")
        row = rows.get(key)
        if row is None:
            row = rows[key] = {"id": key, "type": kind, "start": d.get("start", 0.0), "end": d.get("end", 0.0),
                               "confidence": d.get("confidence"), "label": d.get("label"), "text": d.get("text"),
                               "evidence": d.get("evidence") or {}, "instant": d.get("phase") == "instant"}
        row["start"] = min(row["start"], d.get("start", row["start"]))
        row["end"] = max(row["end"], d.get("end", row["end"]))
        for field in ("label", "text"):
            row[field] = d.get(field) or row[field]
        if d.get("phase") in ("end", "update", "instant"):
            row["confidence"] = d.get("confidence", row["confidence"])
            row["evidence"] = d.get("evidence") or row["evidence"]
    return sorted(rows.values(), key=lambda r: (r["type"], r["start"]))


def _window_rows(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for w in windows:
        audio = w.get("audio") or {}
        loud = (audio.get("loudness") or {}).get("dbfs")
        top = (audio.get("sounds") or {}).get("top") or {}
        label = max(top.items(), key=lambda kv: kv[1])[0] if top else None
        out.append({"start": w.get("start"), "end": w.get("end"), "description": w.get("description") or "",
                    "dbfs": loud, "sound": label})
    return out


def _transcript(folder: Path) -> list[dict[str, Any]]:
    path = folder / "transcript.vtt"
    if not path.exists():
        return []
    import pysubs2
    try:
        subs = pysubs2.load(str(path), encoding="utf-8")
    except Exception:  # noqa: BLE001 - an unreadable transcript leaves the list empty
        return []
    return [{"start": ev.start / 1000, "end": ev.end / 1000, "text": ev.plaintext} for ev in subs]


def _thumbnail_times(duration: float, cuts: list[float]) -> list[float]:
    times = sorted({round(t, 2) for t in cuts if 0 <= t < duration})
    if duration > 0:
        n = max(1, min(MAX_THUMBS - len(times), int(duration // 2) + 1))
        times += [round(duration * (i + 0.5) / n, 2) for i in range(n)]
    return sorted(set(times))[:MAX_THUMBS]


def _thumbnails(uri: str, times: list[float]) -> list[dict[str, Any]]:
    """JPEG key frames at ``times`` (seconds), decoded from the input; none if it cannot be read."""
    if not times or "://" in uri or not Path(uri).is_file():
        return []
    try:
        import av
        import cv2
    except ImportError:  # pragma: no cover
        return []
    out = []
    try:
        with av.open(uri) as container:
            if not container.streams.video:
                return []
            stream = container.streams.video[0]
            tb = stream.time_base
            for t in times:
                container.seek(int(t / tb) + (stream.start_time or 0), stream=stream, backward=True)
                frame = None
                for f in container.decode(stream):
                    if f.pts is None or f.time is None:
                        continue
                    frame = f
                    if f.time >= t + (stream.start_time or 0) * tb:
                        break
                if frame is None:
                    continue
                img = frame.to_ndarray(format="bgr24")
                h = max(1, round(img.shape[0] * THUMB_WIDTH / img.shape[1]))
                ok, jpg = cv2.imencode(".jpg", cv2.resize(img, (THUMB_WIDTH, h), interpolation=cv2.INTER_AREA),
                                       [cv2.IMWRITE_JPEG_QUALITY, 70])
                if ok:
                    out.append({"t": t, "src": "data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode()})
    except Exception as exc:  # noqa: BLE001 - a page without pictures beats no page
        log.warning("no key frames from %s: %s", uri, exc)
    return out


def page_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") + ".html"


def _data(folder: Path, thumbnails: bool) -> dict[str, Any]:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    events = _series(_jsonl(folder / "events.jsonl"))
    duration = float(summary.get("media_seconds") or 0.0)
    for e in events:
        duration = max(duration, float(e["end"] or 0))
    cuts = [e["start"] for e in events if e["type"] == "scene.cut"]
    uri = str(summary.get("source") or "")
    return {"name": folder.name, "source": uri, "duration": duration,
            "events": events, "windows": _window_rows(_jsonl(folder / "windows.jsonl")),
            "transcript": _transcript(folder), "counts": summary.get("events") or {},
            "thumbs": _thumbnails(uri, _thumbnail_times(duration, cuts)) if thumbnails else [],
            "speed": summary.get("speed"), "streams": (summary.get("decode") or {}).get("streams") or []}


def _embed_json(obj: Any) -> str:
    # inside <script type="application/json">: only "</" could end the element early
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _page(title: str, body_class: str, data: Any) -> str:
    css = (_ASSETS / "report.css").read_text(encoding="utf-8")
    js = (_ASSETS / "report.js").read_text(encoding="utf-8")
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            f"style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
            f"<title>{html.escape(title)}</title><style>{css}</style></head>"
            f"<body class=\"{body_class}\"><div id=\"app\"></div>"
            f"<script type=\"application/json\" id=\"data\">{_embed_json(data)}</script>"
            f"<script>{js}</script></body></html>\n")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(hidden_name(path.name, "tmp"))
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_reports(out: str | Path, thumbnails: bool = True) -> list[Path]:
    """Write ``OUT/report/index.html`` and one page per result folder; returns the input pages."""
    out = Path(out)
    folders = sorted(p.parent for p in out.glob("*/summary.json") if not p.parent.name.startswith("."))
    folders = [f for f in folders if f.name != REPORT_DIR]
    if not folders:
        return []
    target = out / REPORT_DIR
    target.mkdir(exist_ok=True)
    pages, rows = [], []
    for folder in folders:
        try:
            data = _data(folder, thumbnails)
        except (OSError, ValueError) as exc:
            log.warning("skipping %s in the report: %s", folder.name, exc)
            continue
        page = target / page_name(folder.name)
        data["index"] = "index.html"
        _write_atomic(page, _page(f"{folder.name} · streamfuse", "input", data))
        pages.append(page)
        rows.append({"name": folder.name, "page": page.name, "source": data["source"], "duration": data["duration"],
                     "counts": data["counts"], "streams": data["streams"],
                     "thumb": data["thumbs"][len(data["thumbs"]) // 2]["src"] if data["thumbs"] else None})
    _write_atomic(target / "index.html", _page("streamfuse archive", "summary", {"inputs": rows}))
    return pages
