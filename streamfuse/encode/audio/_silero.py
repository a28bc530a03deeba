"""The bundled silero VAD, run over many 512-sample chunks per call.

silero's stateful model (``model(chunk, 16000)``) handles one chunk per call: a 64-sample context
from the previous chunk, an STFT and a convolutional encoder per chunk, then an LSTM cell carried from
chunk to chunk. Only the LSTM is sequential, so this runs the same layers of the same bundled model
with the per-chunk parts batched, several times faster; it gives the stateful model's probabilities to
within 1e-5 (``tests/encode/test_audio_encoders.py`` checks it against silero's own loop).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...errors import ModelLoadError

CHUNK = 512     # samples per probability at 16 kHz (silero's fixed size)
_CONTEXT = 64   # samples of the previous chunk the model sees
_MAX_BATCH = 1024


def package_data() -> str | None:
    """The folder of the silero-vad package's model files, found without importing it (or None)."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "data")
    return path if os.path.isdir(path) else None


def load_jit_model() -> Any:
    """silero's own stateful model (a TorchScript module), from the file inside the installed package
    (no download)."""
    try:
        from silero_vad import load_silero_vad
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
            return load_silero_vad(onnx=False)
    except Exception as exc:  # noqa: BLE001 - any failure means the model is unusable
        raise ModelLoadError(f"silero VAD could not be loaded from the silero-vad package ({exc}); "
                             "reinstall it with `pip install silero-vad==6.2.3`") from exc


class SileroStream:
    """Speech probabilities of consecutive 512-sample chunks of one 16 kHz stream."""

    def __init__(self) -> None:
        import torch

        self._torch = torch
        model = load_jit_model()
        try:
            core = model._model
            self._stft, self._encoder, self._head = core.stft, core.encoder, core.decoder.decoder
            rnn = core.decoder.rnn
            self._lstm = torch.nn.LSTM(rnn.weight_ih.shape[1], rnn.weight_hh.shape[1])
            with torch.no_grad():
                for mine, theirs in (("weight_ih_l0", rnn.weight_ih), ("weight_hh_l0", rnn.weight_hh),
                                     ("bias_ih_l0", rnn.bias_ih), ("bias_hh_l0", rnn.bias_hh)):
                    getattr(self._lstm, mine).copy_(theirs)
        except (AttributeError, RuntimeError) as exc:
            raise ModelLoadError(f"the silero-vad package's model has an unexpected layout ({exc}); "
                                 "install silero-vad==6.2.3") from exc
        self._lstm.eval()
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next chunk is treated as the first (silero's ``reset_states``)."""
        self._context = self._torch.zeros(_CONTEXT)
        self._state: tuple[Any, Any] | None = None

    def __call__(self, chunks: np.ndarray) -> np.ndarray:
        """Probabilities (float64, one per row) of ``chunks`` (``n x 512`` float32), continuing the stream."""
        with self._torch.no_grad():
            out = [self._run(chunks[i:i + _MAX_BATCH]) for i in range(0, len(chunks), _MAX_BATCH)]
        return np.concatenate(out) if out else np.zeros(0)

    def _run(self, chunks: np.ndarray) -> np.ndarray:
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(chunks, dtype=np.float32))
        context = torch.cat([self._context[None, :], x[:-1, -_CONTEXT:]], dim=0)
        features = self._encoder(self._stft(torch.cat([context, x], dim=1)))  # n x 128 x 1
        hidden, self._state = self._lstm(features.squeeze(-1).unsqueeze(1), self._state)
        probs = self._head(hidden.squeeze(1).unsqueeze(-1))  # n x 1 x 1
        self._context = x[-1, -_CONTEXT:].clone()
        return probs.reshape(-1).double().numpy()
