"""Pipelines wire configuration to a runtime. They hold no stage logic: stages live in
``streamfuse/`` (sources -> decode -> align -> encode -> fuse -> events / describe -> sinks)."""
