"""Typed configuration and its one loader."""

from .loader import as_dict, build, load_config, parse_set
from .pipeline import (DecodeConfig, EncodersConfig, FusionConfig, OutputConfig, PipelineConfig,
                       RuntimeConfig, WindowConfig)

__all__ = ["PipelineConfig", "DecodeConfig", "WindowConfig", "EncodersConfig", "FusionConfig",
           "RuntimeConfig", "OutputConfig", "load_config", "build", "as_dict", "parse_set"]
