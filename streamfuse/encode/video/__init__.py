"""Video encoders: motion, scene cuts and flashes; faces; people."""

from .faces import FaceEncoder
from .motion import MotionEncoder
from .people import PeopleEncoder

__all__ = ["MotionEncoder", "FaceEncoder", "PeopleEncoder"]
