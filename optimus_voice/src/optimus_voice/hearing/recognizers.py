"""The recognizers the ASR can run, by name: one place that builds either from the node's settings."""

from __future__ import annotations

from optimus_voice.hearing.moonshine import MoonshineRecognizer
from optimus_voice.hearing.whisper import WhisperRecognizer

RECOGNIZERS = ("whisper", "moonshine")


def make_recognizer(kind: str = "whisper", model_path: str = "", device: str = "cpu", compute_type: str = "int8",
                    beam_size: int = 1, threads: int = 1, window_pad_s: float = 1.0, full_window: bool = False,
                    workers: int = 1) -> WhisperRecognizer | MoonshineRecognizer:
    """Whisper (CTranslate2; `model_path` a CTranslate2 folder, empty: tiny.en) or Moonshine (onnxruntime, greedy;
    `model_path` a moonshine-cpp model folder, empty: base-en). Whisper's window and compute settings do not
    apply to Moonshine, nor does a beam: a beam asked of it is refused."""
    if kind == "whisper":
        return WhisperRecognizer(model_path, device=device, compute_type=compute_type, beam_size=beam_size,
                                 threads=threads, window_pad_s=window_pad_s, full_window=full_window, workers=workers)
    if kind == "moonshine":
        if beam_size != 1:
            raise ValueError("the moonshine recognizer decodes greedily: beam_size must be 1")
        return MoonshineRecognizer(model_path, device=device, threads=threads, workers=workers)
    raise ValueError(f"unknown recognizer {kind!r}: one of {', '.join(RECOGNIZERS)}")
