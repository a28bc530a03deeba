"""Stages backed by any Hugging Face model, one per role (``models.<role>`` in the config):
image-text matching (CLIP / SigLIP), captioning, audio-text (CLAP) and text-to-image (diffusers).

Nothing here imports a model library at import time; each stage loads its model, offline, when
it is built (see :mod:`._hf`)."""
