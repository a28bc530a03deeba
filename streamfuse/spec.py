"""What a stage declares about itself, once, beside its code.

An encoder (or a fuser) carries a :class:`StageSpec` as its ``spec`` class attribute: its config key
and typed config section, its modality, the event kinds it emits (:class:`EventKind`, with the JSON
Schema of their ``data``), how far back it may still report (``lookback``), whether it holds results
until the end of the stream (``flush``), the models it loads (for ``streamfuse models``) and the
resources it needs. Everything else is derived from these declarations by
:mod:`streamfuse.registry`: the config sections and their errors, the event type list and its JSON
Schema, the model listing, the order of the local lanes and the Ray actor pools. No second list.

This module holds only declarations; it imports no model library and no stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Literal, Mapping

from .config.base import Section, bounded
from .timebase import as_fraction

Modality = Literal["video", "audio", "text"]
Device = Literal["auto", "cpu", "cuda"]
Lifecycle = Literal["durative", "instant", "both"]


@dataclass(frozen=True)
class EventKind:
    """An event type (``streamfuse.<name>``) and what its ``data`` holds.

    ``lifecycle``: ``durative`` events come as start / update / end with one ``event_id`` (presence
    detections joined into a series by the fusion stage), ``instant`` ones as one event each; ``both``
    for kinds with either (a sustained sound is durative, an onset instant). ``modalities`` are the
    ones its events cite. ``data`` is a JSON Schema fragment merged into the event's ``data`` schema
    (``properties`` and ``required`` of ``label``, ``text``, ``evidence``...); when several stages emit
    the same kind, an event must satisfy one of their fragments. ``gap`` names the fusion setting
    that ends its series (``fusion.gap`` or ``fusion.speech_gap``). ``describe`` is the phrase a
    window description uses when such an event happens in the window (``"a flash of light"``) and
    ``heard`` says whether it belongs to what was heard (audio) rather than seen.
    """

    name: str
    lifecycle: Lifecycle
    modalities: tuple[str, ...]
    data: Mapping[str, Any] = field(default_factory=dict)
    gap: Literal["gap", "speech_gap"] = "gap"
    describe: str | None = None
    doc: str = ""

    @property
    def durative(self) -> bool:
        return self.lifecycle in ("durative", "both")

    @property
    def instant(self) -> bool:
        return self.lifecycle in ("instant", "both")


@dataclass(frozen=True)
class ModelInfo:
    """One model a stage loads, as ``streamfuse models`` lists it (found without loading weights).

    ``location`` is where it loads from (a file, a folder, a package, or ``-`` for no weights);
    ``available`` whether it is there now; ``how`` what to do when it is not.
    """

    stage: str
    model: str
    location: str | None
    available: bool
    kind: str = "bundled"
    how: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "model": self.model, "kind": self.kind, "location": self.location,
                "available": self.available, "how": self.how}


@dataclass(frozen=True)
class Resources:
    """What one instance of the stage needs: a CPU share and GPUs (Ray ``num_cpus`` / ``num_gpus``
    when it runs as an actor, fractional so several fit on a small machine) and the devices it can run
    on (``device: auto`` picks the first available of ``devices`` that is not the CPU, else the CPU)."""

    cpus: float = 0.5
    gpus: float = 0.0
    devices: tuple[str, ...] = ("cpu",)


@dataclass(frozen=True)
class StageSpec:
    """The declaration of one encoder or fuser.

    - ``key``: the config key (``encoders.<key>`` or ``fusion.<key>``); the section type is ``config``
      (``None`` for the rule fuser, whose settings are the keys directly under ``fusion.``).
    - ``modality``: an encoder's modality (fusers see them all: ``None``).
    - ``kinds``: the event kinds the stage's detections or events have.
    - ``lookback``: how far before the start of the window being processed the stage may still report
      a detection (seconds: a number, the name of a float field of its config section, or a function
      of the section). Fusion keeps its
      de-duplication memory and holds series open that long, so a late detection is never lost or
      reported twice.
    - ``flush``: the stage holds results until the stream's end and reports them with the final window
      (every runtime ends every stream with one final window).
    - ``models``: ``section -> [ModelInfo]`` without loading weights; ``None``: no weights.
    - ``resources``: CPU/GPU share and devices; ``stateful``: windows of one source must go to one
      instance, in order (Ray then keeps a source's windows on one actor of the pool).
    - ``per_window``: False for a component configured here but used by another stage (the sentence
      model fusion embeds descriptions with); it gets a config section and a model listing, no lane.
    - ``thumbnails``: it reads ``window.thumbs``, a tiny picture of every decoded frame (the decoder
      makes them only when an enabled stage asks).
    - ``speech_blind``: its ``sound`` detections come from levels alone and cannot tell speech from
      other sounds; the rule fuser waits for the speech decisions of their window and takes those
      heard during speech as part of it. A tagger that names its sounds is not speech-blind.
    """

    key: str
    config: type[Section] | None
    modality: Modality | None = None
    kinds: tuple[EventKind, ...] = ()
    lookback: float | str | Callable[[Any], float] = 0.0
    flush: bool = False
    models: Callable[[Any], list[ModelInfo]] | None = None
    resources: Resources = field(default_factory=Resources)
    stateful: bool = True
    per_window: bool = True
    thumbnails: bool = False
    speech_blind: bool = False
    doc: str = ""

    def lookback_seconds(self, section: Any) -> Fraction:
        value = self.lookback
        if isinstance(value, str):
            value = getattr(section, value)
        elif callable(value):
            value = value(section)
        return as_fraction(value)


@dataclass(frozen=True)
class StageSection(Section):
    """Settings every encoder has besides its own: on/off, device, batching and Ray resources.

    ``num_cpus`` / ``num_gpus`` unset take the stage's declared resources; ``concurrency`` is the
    number of Ray actors in its pool (windows of one source stay on one actor of a stateful stage).
    """

    enabled: bool = True
    device: Device = "auto"
    batch_size: int = bounded(1, 1, 4096, doc="windows one call may take when the stage can batch "
                                              "(its batch(windows)); 1 = one at a time")
    num_cpus: float | None = bounded(None, 0.0, 1024.0, doc="CPU share of each Ray actor (unset: the stage's)")
    num_gpus: float | None = bounded(None, 0.0, 64.0, doc="GPUs of each Ray actor (unset: the stage's, "
                                                          "when it runs on cuda)")
    concurrency: int = bounded(1, 1, 1024, doc="Ray actors serving this stage")


def pick_device(section: Any, spec: StageSpec, cuda_available: Callable[[], bool] = lambda: False) -> str:
    """The device a stage runs on: ``section.device`` honoured against what the stage supports.

    ``auto`` is ``cuda`` when the stage can use it and ``cuda_available()`` (the stage's own library's
    probe) says a device is there, else ``cpu``; an explicit ``cuda`` that the stage cannot use, or
    that is not there, is a :class:`~streamfuse.errors.ConfigError` naming the key.
    """
    from .errors import ConfigError

    wanted = getattr(section, "device", "auto")
    supported = spec.resources.devices
    if wanted == "auto":
        return "cuda" if "cuda" in supported and cuda_available() else "cpu"
    if wanted not in supported:
        raise ConfigError(f"encoders.{spec.key}.device: {wanted!r} is not possible for {spec.key} (it runs on "
                          f"{', '.join(supported)}); set it to auto or {supported[0]}")
    if wanted == "cuda" and not cuda_available():
        raise ConfigError(f"encoders.{spec.key}.device: 'cuda' was asked for but no CUDA device is visible to "
                          f"{spec.key}'s library; set it to auto or cpu")
    return wanted


# -- JSON Schema fragments for the ``data`` of event kinds -------------------------------------------

NUMBER = {"type": "number"}
SCORE = {"type": "number", "minimum": 0, "maximum": 1}
SECONDS = {"type": "number", "minimum": 0}
COUNT = {"type": "integer", "minimum": 0}
FLAG = {"type": "boolean"}
TEXT = {"type": "string"}
#: a box ``[x0, y0, x1, y1]`` in fractions 0-1 of the frame
BOX = {"type": "array", "minItems": 4, "maxItems": 4, "items": SCORE}


def data(*, required: tuple[str, ...] = (), label: Any = None, text: Any = None,
         **evidence: Any) -> dict[str, Any]:
    """A ``data`` fragment: required fields, the schema of ``label`` / ``text`` when given, and the
    properties of ``evidence`` (each named field, when present, must match; others are allowed)."""
    props: dict[str, Any] = {}
    if label is not None:
        props["label"] = label
    if text is not None:
        props["text"] = text
    if evidence:
        props["evidence"] = {"type": "object", "properties": evidence}
    out: dict[str, Any] = {"properties": props} if props else {}
    if required:
        out["required"] = list(required)
    return out
