"""Sentences cut at an inner pause: how well the streaming ASR reads a sentence the endpointer cut in two.

    .venv/bin/python bench/asr_cut.py [--half tune] [--pause-ms 1000] [--set FIELD=VALUE ...] [--name asr_cut]

Real speakers pause inside sentences, and at a pause long enough the turn ends: the rest is decoded as a turn of
its own. Few dev clips hold such a pause, too few to tune `context_gap_ms` on (BENCHMARKS.md, issue 22). This
makes one in every clip of a half: Whisper's word times on the clean clip give the word boundary nearest the
middle (two words at least on each side), and `--pause-ms` of the clip's own noise floor is put there. The clip is
then streamed as in bench/asr.py. The result says, per set, how many clips were cut into more than one turn and
the WER of all, against the clip's transcript.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asr import configured, paced, stream
from common import DEFAULT_DATA, machine, manifest, summary, write
from optimus_voice.audio_io.sources import load_audio
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.hearing.whisper import WhisperRecognizer
from optimus_voice.tools.textnorm import wer
from optimus_voice.tools.turn_bench import half_of

FRAME = SAMPLE_RATE // 50  # 20 ms frames to measure the noise floor on


def noise_floor(audio: np.ndarray) -> float:
    """RMS of the clip's quietest 20 ms frames (10th percentile): its room and microphone noise."""
    frames = audio[:len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    return float(np.percentile(np.sqrt(np.mean(frames ** 2, axis=1)), 10))


def with_pause(audio: np.ndarray, recognizer: WhisperRecognizer, pause_s: float,
               rng: np.random.Generator) -> tuple[np.ndarray, str, str] | None:
    """The clip with a pause at its middle word boundary, and the words before and after; None if too short."""
    words = recognizer.transcribe(audio).words
    if len(words) < 4:
        return None
    middle = audio.size / SAMPLE_RATE / 2
    i = min(range(1, len(words) - 2), key=lambda k: abs(words[k].end_s - middle))
    cut = int((words[i].end_s + words[i + 1].start_s) / 2 * SAMPLE_RATE)
    pause = rng.normal(0.0, noise_floor(audio), int(pause_s * SAMPLE_RATE)).astype(np.float32)
    before = " ".join(w.text.strip() for w in words[:i + 1])
    after = " ".join(w.text.strip() for w in words[i + 1:])
    return np.concatenate([audio[:cut], pause, audio[cut:]]), before, after


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sets", nargs="+", default=["asr_commonvoice_dev", "asr_misc_dev"])
    parser.add_argument("--half", choices=("tune", "report", "all"), default="tune")
    parser.add_argument("--pause-ms", type=float, default=1000.0, help="the pause put inside each clip")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an AsrConfig field (the ASR node parameter of the same name)")
    parser.add_argument("--name", default="asr_cut", help="results file name (bench/results/NAME.json)")
    ns = parser.parse_args()

    cfg, turn_model = configured(ns.set)
    recognizer = WhisperRecognizer(window_pad_s=1.0, workers=2)  # the ASR node's
    rng = np.random.default_rng(0)
    result: dict = {"machine": machine(), "half": ns.half, "pause_ms": ns.pause_ms, "config": vars(cfg), "sets": {}}
    for set_name in ns.sets:
        rows = [r for r in manifest(ns.data / set_name)
                if ns.half == "all" or half_of(f"{set_name}/{r.get('speaker') or r['speaker_id']}") == ns.half]
        refs, hyps, clips, latencies = [], [], [], []
        for r in rows:
            made = with_pause(load_audio(r["path"]), recognizer, ns.pause_ms / 1000, rng)
            if made is None:
                continue
            audio, before, after = made
            t0 = time.perf_counter()
            signal = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), audio,
                                     np.zeros(int(1.5 * SAMPLE_RATE), np.float32)])
            run = stream(paced(signal), recognizer, cfg, turn_model)
            refs.append(r["transcript"])
            hyps.append(run["text"])
            latencies += run["latency_ms"]
            clips.append({"file": Path(r["path"]).name, "cut_after": before, "cut_before": after,
                          "turns": run["turns"], "heard": run["text"],
                          "wer": round(100 * wer([r["transcript"]], [run["text"]]), 2),
                          "wall_s": round(time.perf_counter() - t0, 1)})
            print(f"  {clips[-1]['file']}: {run['turns']} turns, {run['text'][:70]!r}", flush=True)
        cut = [c for c in clips if c["turns"] > 1]
        entry = {"clips": len(clips), "clips_cut": len(cut),
                 "wer": round(100 * wer(refs, hyps), 2) if refs else None,
                 "wer_of_cut_clips": round(100 * wer([refs[i] for i, c in enumerate(clips) if c["turns"] > 1],
                                                     [c["heard"] for c in cut]), 2) if cut else None,
                 "end_of_speech_to_final_ms": summary(latencies), "per_clip": clips}
        result["sets"][set_name] = entry
        print(f"{set_name} ({ns.half}): {len(cut)}/{len(clips)} clips cut, WER {entry['wer']}%, "
              f"of the cut clips {entry['wer_of_cut_clips']}%", flush=True)
    print(f"wrote {write(ns.name, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
