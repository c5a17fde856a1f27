"""Speech emotion from the voice: our MLP (trained with tools/train_emotion.py, run with onnxruntime) on the
features of feeling/features.py (no rclpy, no torch)."""

from __future__ import annotations

import time

import numpy as np
from optimus_voice.common.models import emotion_model_path
from optimus_voice.feeling.emotions import EmotionEstimate, estimate_from_scores
from optimus_voice.feeling.features import EmotionFeatures


class AcousticEmotion:
    """`estimate(samples)` for one utterance at 16 kHz."""

    def __init__(self, model_path: str = "", whisper_path: str = "", threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(emotion_model_path(model_path)), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.features = EmotionFeatures(whisper_path, threads=threads)

    def estimate(self, samples: np.ndarray) -> EmotionEstimate:
        t0 = time.perf_counter()
        x = self.features.features(samples)[None, :]
        probs = self.session.run(None, {"features": x})[0][0]
        return estimate_from_scores(probs, t0)
