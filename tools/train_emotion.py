"""Train the acoustic speech-emotion model: features -> MLP (torch) -> ONNX, evaluated leaving whole actors out.

    make train-emotion DATA=../shared/data/ser_ravdess_dev
    .venv/bin/python tools/train_emotion.py --data DIR [--out optimus_voice/models/emotion] [--folds 6] [--seed 0]

DATA is any folder laid out like ser_ravdess_dev: a manifest.csv with columns `file`, `emotion` and `actor`
(speaker), audio files at `file` relative to it. Labels are mapped onto the stack's 7 (RAVDESS "calm" counts as
neutral); rows with other labels are skipped. Steps, all seeded:
1. features of every clip (feeling/features.py), plus two augmented copies for training: background noise
   at 5-25 dB SNR with a random gain, and synthetic room reverberation with a random gain (cached in --cache);
2. k-fold evaluation where each fold holds out whole actors (never a number from a speaker seen in training):
   unweighted accuracy (mean per-class recall), per-class recall and the summed confusion matrix;
3. the final model trained on every actor, exported to ONNX with the feature standardisation inside, and
   metrics.json + confusion.png written next to it for the model card.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "optimus_voice" / "src"))

from optimus_voice.feeling.emotions import LABELS  # noqa: E402

LABEL_MAP = {"calm": "neutral", "surprise": "surprised", "fear": "fearful", "anger": "angry", "happiness": "happy",
             "sadness": "sad", **{label: label for label in LABELS}}


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def read_manifest(data: Path) -> list[dict]:
    with (data / "manifest.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if LABEL_MAP.get(r["emotion"].lower()) in LABELS]
    for r in rows:
        r["label"] = LABELS.index(LABEL_MAP[r["emotion"].lower()])
        r["speaker"] = r.get("actor") or r.get("speaker") or r.get("speaker_id")
    return rows


def reverb(x: np.ndarray, rng: np.random.Generator, rate: int = 16000) -> np.ndarray:
    """Convolve with a synthetic room impulse response: exponentially decaying noise, RT60 0.2-0.7 s."""
    rt60 = rng.uniform(0.2, 0.7)
    t = np.arange(int(rt60 * rate)) / rate
    rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    rir[0] = 1.0
    size = 1 << int(np.ceil(np.log2(len(x) + len(rir))))
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(rir, size), size)[: len(x)]
    return (wet / (np.abs(wet).max() + 1e-9) * np.abs(x).max()).astype(np.float32)


def noisy(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    snr_db = rng.uniform(5, 25)
    noise = rng.standard_normal(len(x))
    if rng.random() < 0.5:  # pink-ish: most of the energy low, like fans and traffic
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(200) / 200, mode="same")
    speech_power = np.mean(x ** 2) + 1e-10
    noise *= np.sqrt(speech_power / (np.mean(noise ** 2) + 1e-10) / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def gain(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(x * 10 ** (rng.uniform(-12, 6) / 20), -1, 1).astype(np.float32)


def extract(rows: list[dict], data: Path, cache: Path, seed: int) -> np.ndarray:
    """(clips, 3 views, FEATURE_DIM): clean, noise + gain, reverb + gain. Cached per data set and seed."""
    from optimus_voice.audio_io.sources import load_audio
    from optimus_voice.feeling.features import EmotionFeatures

    key = hashlib.sha256(("v1" + str(seed) + "".join(r["file"] for r in rows)).encode()).hexdigest()[:16]
    path = cache / f"emotion_features_{key}.npy"
    if path.exists():
        return np.load(path)
    fx = EmotionFeatures(threads=2)
    rng = np.random.default_rng(seed)
    out = []
    t0 = time.perf_counter()
    for i, r in enumerate(rows):
        x = load_audio(data / r["file"])
        out.append([fx.features(x), fx.features(gain(noisy(x, rng), rng)), fx.features(gain(reverb(x, rng), rng))])
        if i % 200 == 0:
            print(f"  features {i}/{len(rows)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    feats = np.array(out, dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, feats)
    return feats


def make_model(dim: int, mean: np.ndarray, std: np.ndarray):
    import torch
    from torch import nn

    class EmotionMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean))
            self.register_buffer("std", torch.tensor(std))
            self.net = nn.Sequential(nn.Dropout(0.2), nn.Linear(dim, 256), nn.GELU(), nn.Dropout(0.4),
                                     nn.Linear(256, len(LABELS)))

        def forward(self, x):
            return self.net((x - self.mean) / self.std)

    return EmotionMLP()


def train(x: np.ndarray, y: np.ndarray, seed: int, epochs: int = 120):
    """x: (n, dim) including augmented copies, y: (n,). Class-weighted cross-entropy, AdamW, cosine schedule."""
    import torch

    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    model = make_model(x.shape[1], mean, std)
    counts = np.bincount(y, minlength=len(LABELS)).astype(np.float32)
    weights = torch.tensor(counts.sum() / (len(LABELS) * np.maximum(counts, 1)))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.tensor(x), torch.tensor(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
        sched.step()
    model.eval()
    return model


def predict(model, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.tensor(x)).argmax(1).numpy()


def folds_by_speaker(speakers: list[str], k: int, seed: int) -> list[list[str]]:
    unique = sorted(set(speakers))
    random.Random(seed).shuffle(unique)
    return [unique[i::k] for i in range(k)]


def cross_validate(feats: np.ndarray, y: np.ndarray, speakers: list[str], folds: int, seed: int,
                   epochs: int) -> dict:
    """Leave-speakers-out k-fold evaluation. Test on the clean clips of the held-out speakers (the confusion
    matrix), and also on their noisy and reverberant copies (robustness to the robot's conditions)."""
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    fold_ua, view_hits, view_totals = [], np.zeros((feats.shape[1], len(LABELS))), np.zeros(len(LABELS))
    for k, held in enumerate(folds_by_speaker(speakers, folds, seed)):
        test = np.array([s in held for s in speakers])
        x_train = feats[~test].reshape(-1, feats.shape[-1])          # clean + augmented views
        y_train = np.repeat(y[~test], feats.shape[1])
        model = train(x_train, y_train, seed + k, epochs)
        for view in range(feats.shape[1]):
            pred = predict(model, feats[test, view])
            np.add.at(view_hits[view], y[test][pred == y[test]], 1)
            if view == 0:
                m = np.zeros_like(matrix)
                np.add.at(m, (y[test], pred), 1)
        np.add.at(view_totals, y[test], 1)
        matrix += m
        present = m.sum(1) > 0
        fold_ua.append(float((np.diag(m)[present] / m.sum(1)[present]).mean()))
        print(f"  fold {k + 1}/{folds} (held-out speakers {', '.join(sorted(held))}): UA {fold_ua[-1]:.3f}",
              flush=True)
    recall = np.diag(matrix) / np.maximum(matrix.sum(1), 1)
    view_ua = (view_hits / np.maximum(view_totals, 1)).mean(1)
    return {
        "clips": len(y), "speakers": len(set(speakers)), "folds": folds, "seed": seed, "epochs": epochs,
        "unweighted_accuracy": round(float(recall.mean()), 4),
        "weighted_accuracy": round(float(np.trace(matrix) / matrix.sum()), 4),
        "fold_unweighted_accuracy": [round(a, 4) for a in fold_ua],
        "per_class_recall": {label: round(float(r), 4) for label, r in zip(LABELS, recall, strict=True)},
        "unweighted_accuracy_noisy": round(float(view_ua[1]), 4) if len(view_ua) > 1 else None,
        "unweighted_accuracy_reverberant": round(float(view_ua[2]), 4) if len(view_ua) > 2 else None,
        "confusion": matrix.tolist(), "labels": list(LABELS),
    }


def confusion_png(matrix: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=45, ha="right")
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with manifest.csv (file, emotion, actor)")
    parser.add_argument("--out", type=Path, default=ROOT / "optimus_voice" / "models" / "emotion")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "emotion_cache")
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-only", action="store_true", help="cross-validate, do not export")
    ns = parser.parse_args()

    seed_everything(ns.seed)
    t_start = time.perf_counter()
    rows = read_manifest(ns.data)
    y = np.array([r["label"] for r in rows])
    speakers = [r["speaker"] for r in rows]
    print(f"{len(rows)} clips, {len(set(speakers))} speakers; labels "
          + ", ".join(f"{LABELS[i]} {n}" for i, n in enumerate(np.bincount(y, minlength=len(LABELS)))), flush=True)
    feats = extract(rows, ns.data, ns.cache, ns.seed)

    metrics = {"data": str(ns.data), **cross_validate(feats, y, speakers, ns.folds, ns.seed, ns.epochs)}
    matrix = np.array(metrics["confusion"])
    fold_ua = metrics["fold_unweighted_accuracy"]
    print(f"leave-speakers-out UA {metrics['unweighted_accuracy']:.3f} (folds {min(fold_ua):.3f}-{max(fold_ua):.3f}),"
          f" WA {metrics['weighted_accuracy']:.3f}")
    print("per-class recall: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics["per_class_recall"].items()))
    if ns.eval_only:
        return 0

    import torch

    ns.out.mkdir(parents=True, exist_ok=True)
    model = train(feats.reshape(-1, feats.shape[-1]), np.repeat(y, feats.shape[1]), ns.seed, ns.epochs)

    class WithSoftmax(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.softmax(self.inner(x), dim=-1)

    torch.onnx.export(WithSoftmax(model), torch.zeros(1, feats.shape[-1]), ns.out / "emotion_mlp.onnx",
                      input_names=["features"], output_names=["probabilities"],
                      dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=17,
                      dynamo=False)
    metrics["train_minutes"] = round((time.perf_counter() - t_start) / 60, 1)
    (ns.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    confusion_png(matrix, ns.out / "confusion.png",
                  f"leave-speakers-out ({ns.folds} folds), UA {metrics['unweighted_accuracy']:.2f}")
    print(f"wrote {ns.out / 'emotion_mlp.onnx'}, metrics.json, confusion.png "
          f"({metrics['train_minutes']} min in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
