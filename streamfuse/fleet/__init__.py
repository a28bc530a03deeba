"""Camera fleets: many live cameras in one ``streamfuse watch``, heavy models loaded once and
shared (and batched) across them, per-camera zones. See :mod:`.config`, :mod:`.shared`,
:mod:`.zones` and :mod:`.runner`; :mod:`.ray_fleet` spreads a fleet over a Ray cluster's nodes."""
