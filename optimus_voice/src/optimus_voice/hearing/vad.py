"""Silero VAD run with plain onnxruntime (no torch import): speech probability per 32 ms window."""

from __future__ import annotations

import numpy as np
from optimus_voice.common.models import silero_vad_path
from optimus_voice.contract.audio import SAMPLE_RATE

WINDOW = 512   # samples per decision at 16 kHz (32 ms), fixed by the model
CONTEXT = 64   # samples of the previous window the model sees in front of each window


class SileroVad:
    """Stateful streaming VAD: feed any number of samples, get one probability per complete 512-sample window."""

    def __init__(self, model_path: str = "", threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(silero_vad_path(model_path)), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def window_probability(self, window: np.ndarray) -> float:
        x = np.concatenate([self._context, window.reshape(1, WINDOW).astype(np.float32)], axis=1)
        out, self._state = self.session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = x[:, -CONTEXT:]
        return float(out[0][0])

    def push(self, samples: np.ndarray) -> list[float]:
        """Probabilities of the complete windows now available (buffers the remainder)."""
        buf = np.concatenate([self._pending, samples.astype(np.float32)])
        n = len(buf) // WINDOW
        probs = [self.window_probability(buf[i * WINDOW:(i + 1) * WINDOW]) for i in range(n)]
        self._pending = buf[n * WINDOW:]
        return probs
