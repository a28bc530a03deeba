"""Masks hide a region from every encoder: a box moving only inside a mask is no motion."""

from __future__ import annotations

import numpy as np
import pytest

from streamfuse.errors import ConfigError
from streamfuse.fleet.config import camera
from streamfuse.fleet.masks import FILL, Masker, parse_masks
from streamfuse.fleet.runner import Fleet

from .conftest import shared_data

BAND = [[[0.0, 0.3], [1.0, 0.3], [1.0, 0.7], [0.0, 0.7]]]  # where the feed's red box moves


def test_masked_pixels_are_painted_and_the_rest_kept():
    image = np.full((100, 200, 3), 7, np.uint8)
    out = Masker(parse_masks(BAND))(image)
    assert (out[30:70] == FILL).all() and (out[:29] == 7).all() and (out[71:] == 7).all()
    assert (image == 7).all()  # the decoded frame itself is not changed
    with pytest.raises(ConfigError, match="cameras.x.masks.0"):
        parse_masks([[[0, 0], [1, 1]]], "cameras.x.masks")


def test_a_box_moving_inside_a_mask_makes_no_motion_while_the_unmasked_camera_sees_it(feed, list_sink):
    f = feed("tcp", flashes=(), audio=False)
    data = shared_data()
    fleet = Fleet([list_sink])
    try:
        fleet.start([camera("plain", f.url, data), camera("masked", {"url": f.url, "masks": BAND}, data)])

        def motion(name):
            return [e for e in list_sink.events if e["source"] == f"streamfuse://{name}"
                    and e["type"] == "streamfuse.motion"]

        assert list_sink.wait_for(lambda _: motion("plain"), 20)
        assert list_sink.wait_for(lambda _: fleet.health()["masked"]["windows"] >= 4, 15)
    finally:
        fleet.stop()
    assert motion("plain") and not motion("masked")
