"""One or two plain sentences per window, built only from what the detectors reported.

No sentence claims what no detector saw; a modality the source lacks is said, not invented. An
instant event in the window is said with the phrase its kind declares (``EventKind.describe``),
among what was seen or heard by the kind's first modality, in the registry's order of kinds.
"""

from __future__ import annotations

from typing import Iterable

from .. import registry
from ..align.window import Window
from ..encode.base import Features


def _phrases(kinds: set[str]) -> tuple[list[str], list[str]]:
    """The declared phrases of ``kinds``: (seen, heard)."""
    seen: list[str] = []
    heard: list[str] = []
    for name, declared in registry.event_kinds().items():
        if name not in kinds:
            continue
        phrase = next((k.describe for k in declared if k.describe), None)
        if phrase:
            (heard if declared[0].modalities[0] == "audio" else seen).append(phrase)
    return seen, heard


def _count(n: int, one: str, many: str) -> str:
    words = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five"}
    return f"{words.get(n, str(n))} {one if n == 1 else many}"


def _quote(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def describe_window(window: Window, features: Iterable[Features], transcript: str,
                    instants: Iterable[str] = ()) -> str:
    """``instants``: kinds of the instant events (``scene.cut``, ``flash``, ``sound``) the fusion
    stage reported inside the window, including those decided after it was first seen."""
    features = list(features)
    by_name = {f.encoder: f.summary for f in features}
    kinds = {d.kind for f in features for d in f.detections if d.kind == "speech" and d.start < window.end}
    kinds |= set(instants)
    video_encoders = any(f.modality == "video" for f in features)
    seen: list[str] = []
    heard: list[str] = []
    seen_phrases, heard_phrases = _phrases(kinds)

    if "video" in window.absent:
        seen.append("No video track")
    elif not window.has_video:
        seen.append("No video frames in this span")
    elif not video_encoders:
        seen.append("Video not analysed")
    else:
        faces = int(by_name.get("faces", {}).get("faces") or 0)
        people = int(by_name.get("people", {}).get("people") or 0)
        if faces:
            seen.append(_count(faces, "face", "faces") + " visible")
        if people and people > faces:
            seen.append(_count(people, "person", "people") + " in view")
        seen.extend(seen_phrases)
        motion = by_name.get("motion", {})
        if motion:
            if (motion.get("motion") or 0) > 0:
                seen.append("movement in the frame")
            elif not faces and not people:
                seen.append("a still scene")
            brightness = motion.get("brightness")
            if brightness is not None and brightness < 30:
                seen.append("the picture is dark")
        if not seen:
            seen.append("Nothing detected in the picture")

    if window.audio is None or "audio" in window.absent:
        heard.append("no audio track")
    elif not window.has_audio:
        heard.append("no audio in this span")
    else:
        vad = by_name.get("vad", {})
        loud = by_name.get("loudness", {})
        if vad.get("speech") or "speech" in kinds:
            heard.append("speech")
        heard.extend(heard_phrases)
        if loud.get("silence") and not heard:
            heard.append("silence")
        elif not heard and loud:
            level = loud.get("dbfs")
            heard.append(f"background sound ({level:.0f} dBFS)" if isinstance(level, (int, float)) else "background sound")
        if not vad and not loud:
            heard.append("audio not analysed")

    first = seen[0][0].upper() + seen[0][1:] if seen else ""
    sentence = ", ".join([first] + seen[1:]) if seen else ""
    audio_part = "; ".join(heard)
    if transcript and "speech" in heard:
        audio_part = audio_part.replace("speech", f"speech: '{_quote(transcript)}'", 1)
    elif transcript:
        audio_part += f"; text: '{_quote(transcript)}'"
    out = f"{sentence}; {audio_part}." if sentence and audio_part else f"{sentence or audio_part}."
    return out[0].upper() + out[1:]
