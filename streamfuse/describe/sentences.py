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


_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
#: the plural of the COCO class names that do not just take an -s
_PLURAL = {"person": "people", "bus": "buses", "bench": "benches", "couch": "couches", "knife": "knives",
           "mouse": "mice", "sheep": "sheep", "skis": "skis", "scissors": "scissors", "wine glass": "wine glasses",
           "sandwich": "sandwiches", "toothbrush": "toothbrushes", "skateboard": "skateboards"}
#: classes named in a description at most
_MAX_CLASSES = 3
_MAX_SOUNDS = 4


def _things(n: int, name: str) -> str:
    """``1, "car"`` -> ``"a car"``; ``2, "person"`` -> ``"two people"``."""
    if n == 1:
        return ("an " if name[0] in "aeiou" else "a ") + name
    return f"{_WORDS.get(n, str(n))} {_PLURAL.get(name, name + 's')}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _in_view(by_name: dict, faces: int) -> tuple[str | None, int]:
    """What is in view (people beyond the faces already said, and tracked objects by class), and
    the most people seen in one frame."""
    tracked = dict(by_name.get("objects", {}).get("objects") or {})
    people = max(int(by_name.get("people", {}).get("people") or 0), int(tracked.pop("person", 0) or 0))
    items = [_things(people, "person")] if people and people > faces else []
    for name, n in sorted(tracked.items(), key=lambda kv: (-kv[1], kv[0]))[:_MAX_CLASSES]:
        if n:
            items.append(_things(int(n), name))
    return (_join(items) + " in view" if items else None), people


def _foundation(by_name: dict) -> list[str]:
    """What the foundation models said: the image-text model's best zero-shot label and the
    captioner's caption (each only when configured)."""
    out = []
    label = by_name.get("image_text", {}).get("label")
    if label:
        out.append(f"looks like {label}")
    caption = by_name.get("caption", {}).get("caption")
    if caption:
        out.append(f"caption: '{_quote(caption)}'")
    return out


def describe_window(window: Window, features: Iterable[Features], transcript: str,
                    instants: Iterable[str] = (), sounds: Iterable[str] = ()) -> str:
    """``instants``: kinds of the instant events (``scene.cut``, ``flash``, unnamed ``sound``s) the
    fusion stage reported inside the window, including those decided after it was first seen;
    ``sounds``: the labels of the named sounds heard in it."""
    features = list(features)
    by_name = {f.encoder: f.summary for f in features}
    kinds = {d.kind for f in features for d in f.detections if d.kind == "speech" and d.start < window.end}
    kinds |= set(instants)
    video_encoders = any(f.modality == "video" for f in features)
    seen: list[str] = []
    heard: list[str] = []
    seen_phrases, heard_phrases = _phrases(kinds)
    sounds = [s.lower() for s in dict.fromkeys(sounds)][:_MAX_SOUNDS]

    if "video" in window.absent:
        seen.append("No video track")
    elif not window.has_video:
        seen.append("No video frames in this span")
    elif not video_encoders:
        seen.append("Video not analysed")
    else:
        faces = int(by_name.get("faces", {}).get("faces") or 0)
        if faces:
            seen.append(_count(faces, "face", "faces") + " visible")
        view, people = _in_view(by_name, faces)
        if view:
            seen.append(view)
        seen.extend(seen_phrases)
        seen.extend(_foundation(by_name))
        motion = by_name.get("motion", {})
        if motion:
            if (motion.get("motion") or 0) > 0:
                seen.append("movement in the frame")
            elif not faces and not view:
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
        if sounds:
            heard.append("sounds: " + ", ".join(sounds))
        heard.extend(heard_phrases)
        if loud.get("silence") and not heard:
            heard.append("silence")
        elif not heard and loud:
            level = loud.get("dbfs")
            heard.append(f"background sound ({level:.0f} dBFS)" if isinstance(level, (int, float)) else "background sound")
        if not vad and not loud and "sounds" not in by_name:
            heard.append("audio not analysed")
        elif not heard:
            heard.append("nothing recognised in the sound")

    first = seen[0][0].upper() + seen[0][1:] if seen else ""
    sentence = ", ".join([first] + seen[1:]) if seen else ""
    audio_part = "; ".join(heard)
    if transcript and "speech" in heard:
        audio_part = audio_part.replace("speech", f"speech: '{_quote(transcript)}'", 1)
    elif transcript:
        audio_part += f"; text: '{_quote(transcript)}'"
    out = f"{sentence}; {audio_part}." if sentence and audio_part else f"{sentence or audio_part}."
    return out[0].upper() + out[1:]
