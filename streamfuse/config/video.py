"""Configuration of the video encoders."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Section, bounded


@dataclass(frozen=True)
class MotionConfig(Section):
    """Frame-difference motion, scene cuts with flash suppression, flashes, brightness and blur."""

    enabled: bool = True
    noise_floor: float = bounded(6.0, 0.0, 255.0, doc="per-pixel grey-level change ignored as noise")
    min_area: float = bounded(0.002, 0.0, 1.0, doc="fraction of the frame that must change to count as motion")
    cut_threshold: float = bounded(0.35, 0.0, 1.0, lo_open=True, doc="content change (0-1) that makes a cut")
    cut_ratio: float = bounded(2.0, 1.0, 100.0,
                               doc="a cut's content change must also be this many times the recent median "
                                   "change, so fast motion is not a cut")
    flash_delta: float = bounded(40.0, 1.0, 255.0, doc="mean brightness jump (grey levels) that makes a flash")
    flash_max: float = bounded(0.3, 0.0, 5.0,
                               doc="seconds a flash or other transient may last and still not be a cut "
                                   "(a single analysed frame always may)")


@dataclass(frozen=True)
class FacesConfig(Section):
    """Faces with OpenCV's bundled Haar cascade."""

    enabled: bool = True
    min_size: int = bounded(24, 8, 4096, doc="smallest face side in pixels of the analysis frame")
    min_neighbors: int = bounded(5, 1, 50)
    scale_factor: float = bounded(1.2, 1.01, 2.0, doc="cascade pyramid step; 1.1 finds a few more, costs ~2x")
    rate: float = bounded(1.0, 0.1, 120.0, doc="frames per second examined at most (the cascade costs 8-20 ms a "
                                                "320-wide frame on one core, more on busy real scenes)")
    min_weight: float = bounded(0.0, -100.0, 100.0,
                                doc="cascade level weight a face must reach (true faces score about 5-12)")
    profile: bool = False  # also run the profile-face cascade (both directions); about 5x the cost


@dataclass(frozen=True)
class PeopleConfig(Section):
    """People with OpenCV's bundled HOG detector, gated by motion."""

    enabled: bool = True
    rate: float = bounded(0.5, 0.1, 60.0, doc="frames per second examined at most (HOG costs ~35 ms a frame on one "
                                               "core: 0.5 keeps 720p30 analysis above 15x real time on 2 cores)")
    min_score: float = bounded(0.5, 0.0, 10.0, doc="SVM score a detection must reach")
    motion_gated: bool = True
    motion_area: float = bounded(0.002, 0.0, 1.0,
                                 doc="fraction of the frame that must have changed since the last HOG run "
                                     "to run it again; otherwise the last result is carried forward")
    width: int = bounded(640, 64, 4096,
                         doc="frames are resized to this width for HOG (its window is 64x128 pixels, so "
                             "640 finds people about 64 pixels tall in a 320-wide analysis frame)")
    scale_factor: float = bounded(1.2, 1.01, 2.0,
                                  doc="HOG pyramid step; smaller finds people between steps better but costs more "
                                      "(1.1: ~1.8x, OpenCV's 1.05: ~3.5x)")
    overlap: float = bounded(0.4, 0.0, 1.0, doc="boxes overlapping more than this (IoU) are merged by NMS")
