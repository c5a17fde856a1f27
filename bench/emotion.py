"""Emotion benchmark: leave-speakers-out accuracy of the acoustic model's recipe, and its inference cost.

    .venv/bin/python bench/emotion.py [--data ../shared/data/ser_ravdess_dev] [--folds 6]

Runs the training pipeline's cross-validation (tools/train_emotion.py: same features, augmentation, seed) where
each fold holds out whole speakers: unweighted accuracy (mean per-class recall), per-class recall, the confusion
matrix (bench/results/emotion_confusion.png), and accuracy on noisy and reverberant copies of the held-out
speakers' clips. Then times the shipped model (features + ONNX) per utterance. Needs torch
(`pip install -r requirements-train.txt`). Writes bench/results/emotion.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from common import DEFAULT_DATA, RESULTS, ROOT, machine, summary, write
from train_emotion import confusion_png, cross_validate, extract, read_manifest, seed_everything


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "ser_ravdess_dev")
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing-clips", type=int, default=40)
    ns = parser.parse_args()

    seed_everything(ns.seed)
    rows = read_manifest(ns.data)
    y = np.array([r["label"] for r in rows])
    speakers = [r["speaker"] for r in rows]
    feats = extract(rows, ns.data, ROOT / "build" / "emotion_cache", ns.seed)
    result = {"machine": machine(), "data": str(ns.data),
              **cross_validate(feats, y, speakers, ns.folds, ns.seed, ns.epochs)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    confusion_png(np.array(result["confusion"]), RESULTS / "emotion_confusion.png",
                  f"leave-speakers-out ({ns.folds} folds), UA {result['unweighted_accuracy']:.2f}")

    from optimus_voice.audio_io.sources import load_audio
    from optimus_voice.feeling.acoustic import AcousticEmotion

    model = AcousticEmotion()
    clips = [load_audio(ns.data / r["file"]) for r in rows[::max(1, len(rows) // ns.timing_clips)]]
    model.estimate(clips[0])
    times = []
    for clip in clips:
        t0 = time.perf_counter()
        model.estimate(clip)
        times.append((time.perf_counter() - t0) * 1000)
    result["inference_ms"] = summary(times)
    result["clip_seconds_mean"] = round(float(np.mean([len(c) / 16000 for c in clips])), 2)
    print(f"UA {result['unweighted_accuracy']:.3f} (folds {min(result['fold_unweighted_accuracy']):.3f}-"
          f"{max(result['fold_unweighted_accuracy']):.3f}); noisy {result['unweighted_accuracy_noisy']:.3f}, "
          f"reverberant {result['unweighted_accuracy_reverberant']:.3f}")
    print("per-class recall: " + ", ".join(f"{k} {v:.2f}" for k, v in result["per_class_recall"].items()))
    print(f"inference (features + model) per utterance of {result['clip_seconds_mean']} s: "
          f"p50 {result['inference_ms']['p50']} ms, p95 {result['inference_ms']['p95']} ms")
    print(f"wrote {write('emotion', result)} and {RESULTS / 'emotion_confusion.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
