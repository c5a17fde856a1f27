"""Has the user finished their turn? Smart Turn v3.2 hears it in the voice (no rclpy).

Smart Turn (Daily, BSD-2-Clause for code and weights; the model file and its Whisper log-mel feature code ship in
the `pipecat-ai` wheel, installed without its dependencies) reads the last 8 s of a turn's audio and gives the
probability that the speaker is done: falling pitch and final lengthening say "done", a level, drawn-out voice
says "more to come", where the words alone often cannot tell (Whisper puts a full stop before most pauses).

About 10 ms for the features and 60-90 ms for the model on one thread of this CPU; onnxruntime releases the GIL,
so it can run beside the recognizer's decode at the same pause.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from optimus_voice.common.models import package_file, resolve
from optimus_voice.contract.audio import SAMPLE_RATE

PACKAGE = "pipecat"
MODEL = "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
FEATURES = "audio/turn/smart_turn/_whisper_features.py"
WINDOW_S = 8.0  # the model's input: the last 8 s, zeros in front of a shorter turn


@dataclass
class TurnVerdict:
    """The model's reading of a turn at a pause."""

    complete: float     # probability that the user is done
    features_ms: float
    model_ms: float


def _features_module() -> ModuleType:
    """pipecat's numpy log-mel code, loaded from its file: importing `pipecat` itself would need its dependencies."""
    path = package_file(PACKAGE, FEATURES)
    spec = importlib.util.spec_from_file_location("optimus_voice._smart_turn_features", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def smart_turn_path(path: str = "") -> Path:
    return resolve(path, PACKAGE, MODEL)


class SmartTurn:
    """Smart Turn v3.2 (int8 ONNX, CPU) on 16 kHz mono float audio."""

    def __init__(self, model_path: str = "", threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = smart_turn_path(model_path)
        self._log_mel = _features_module().compute_whisper_log_mel_features
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def predict(self, audio: np.ndarray) -> TurnVerdict:
        """The probability that the turn whose audio (speech up to the pause, 16 kHz) is `audio` is over."""
        t0 = time.perf_counter()
        n = int(WINDOW_S * SAMPLE_RATE)
        audio = np.asarray(audio, np.float32)[-n:]
        if len(audio) < n:
            audio = np.concatenate([np.zeros(n - len(audio), np.float32), audio])
        features = self._log_mel(audio, do_normalize=True)[None].astype(np.float32)
        t1 = time.perf_counter()
        probability = float(np.asarray(self._session.run(None, {self._input: features})[0]).reshape(-1)[0])
        t2 = time.perf_counter()
        return TurnVerdict(probability, (t1 - t0) * 1000, (t2 - t1) * 1000)
