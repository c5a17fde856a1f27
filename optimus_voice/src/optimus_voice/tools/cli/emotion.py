"""`optimus-voice emotion FILE...`: the speech-emotion model on audio files (fused with --text when given)."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_emotion(ns: argparse.Namespace) -> int:
    from optimus_voice.audio_io.sources import SourceError, load_audio
    from optimus_voice.feeling.acoustic import AcousticEmotion
    from optimus_voice.feeling.fusion import fuse
    from optimus_voice.feeling.text_emotion import TextEmotion

    model = AcousticEmotion(ns.model)
    text_model = TextEmotion() if ns.text else None
    status = 0
    for path in ns.files:
        try:
            est = model.estimate(load_audio(path))
        except SourceError as exc:
            print(json.dumps({"file": path, "error": str(exc)}) if ns.json else f"{path}: error: {exc}",
                  file=sys.stdout if ns.json else sys.stderr)
            status = 1
            continue
        modality = "acoustic"
        if text_model is not None:
            words = text_model.estimate(ns.text)
            est, modality = fuse(est, words, 0.8 * text_model.evidence(words)), "fused"
        result = {"file": path, "label": est.label, "scores": {k: round(v, 4) for k, v in est.scores.items()},
                  "valence": round(est.valence, 3), "arousal": round(est.arousal, 3), "modality": modality,
                  "inference_ms": round(est.inference_ms, 1)}
        if ns.json:
            print(json.dumps(result), flush=True)
        else:
            top = sorted(est.scores.items(), key=lambda kv: -kv[1])[:3]
            print(f"{path}: {est.label} ({', '.join(f'{k} {v:.2f}' for k, v in top)}; valence {est.valence:+.2f}, "
                  f"arousal {est.arousal:+.2f}, {est.inference_ms:.0f} ms)")
    return status


def add_parser(sub) -> None:
    p = sub.add_parser("emotion", help="the user's emotion from audio files (our speech-emotion model)")
    p.add_argument("files", nargs="+", help="WAV/FLAC/OGG files, any rate")
    p.add_argument("--text", help="what was said (its transcript): fuse the words with the voice")
    p.add_argument("--json", action="store_true", help="one JSON object per line and file")
    p.add_argument("--model", default="", help="emotion model .onnx (default: the package's)")
    p.set_defaults(func=cmd_emotion)
