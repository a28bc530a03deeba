"""Text encoders: speech recognition (faster-whisper) and sentence embeddings (all-MiniLM-L6-v2).

Model libraries are imported only when a model is loaded, so importing this package is cheap.
"""

from .asr import AsrEncoder
from .embed import TextEmbedder, TextEncoder
from .models import ModelLocation, locate_asr_model, locate_text_model

__all__ = ["AsrEncoder", "TextEncoder", "TextEmbedder", "ModelLocation", "locate_asr_model", "locate_text_model"]
