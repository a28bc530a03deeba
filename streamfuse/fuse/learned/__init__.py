"""Learned fusion: early, late and hybrid (bottleneck attention) models over the pipeline's own
features, trained on labelled footage (``streamfuse train``), scored (``streamfuse eval``) and run
in the pipeline by the ``learned`` fuser (``fusion.model=MODEL_DIR``).

Modules: :mod:`.config` (model and training settings), :mod:`.inputs` (per-window token sequences
and masks), :mod:`.encoders` and :mod:`.models` (torch modules), :mod:`.train` (training,
calibration, prediction), :mod:`.io` (a saved model folder), :mod:`.metrics`, :mod:`.features`
(features of labelled media, cached), :mod:`.fuser` (the pipeline fuser). Only :mod:`.fuser` and
:mod:`.config` are cheap to import; the rest import torch.
"""
