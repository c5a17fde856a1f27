"""TTS benchmark: time to first audio, real-time factor and intelligibility of our own voice to our own ASR.

    .venv/bin/python bench/tts.py [--sentences bench/data/tts_sentences.txt] [--styles neutral happy sad calm excited]

For every sentence (written for this benchmark: replies a robot gives, 3 to 30 words) and style:
  first audio   time from the call to the first synthesized piece (what the TTS node publishes first)
  RTF           all synthesis time / seconds of audio
  WER           the audio resampled to 16 kHz, transcribed by the stack's own Whisper tiny.en, against the text
Short replies have at most 10 words, long ones at least 20. Prints a summary, writes bench/results/tts.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, summary, write


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=Path, default=Path(__file__).parent / "data" / "tts_sentences.txt")
    parser.add_argument("--styles", nargs="+", default=["neutral", "happy", "sad", "calm", "excited"])
    ns = parser.parse_args()

    import soxr
    from optimus_voice.hearing.whisper import WhisperRecognizer
    from optimus_voice.speaking.tts import Synthesizer
    from optimus_voice.tools.textnorm import wer

    sentences = [s.strip() for s in ns.sentences.read_text().splitlines() if s.strip()]
    t0 = time.perf_counter()
    synth = Synthesizer()
    load_ms = (time.perf_counter() - t0) * 1000
    asr = WhisperRecognizer()
    list(synth.synthesize("Warming up.", "neutral"))

    result: dict = {"machine": machine(), "backend": synth.backend, "visemes": synth.alignments,
                    "load_ms": round(load_ms), "sentences": len(sentences), "styles": {}}
    first = {"short": [], "long": [], "all": []}
    for style in ns.styles:
        hyps, synth_s, audio_s = [], 0.0, 0.0
        for text in sentences:
            t0 = time.perf_counter()
            chunks, first_ms = [], None
            for chunk in synth.synthesize(text, style):
                first_ms = first_ms if first_ms is not None else (time.perf_counter() - t0) * 1000
                chunks.append(chunk)
            synth_s += time.perf_counter() - t0
            audio = np.concatenate([c.samples for c in chunks])
            audio_s += len(audio) / synth.sample_rate
            n = len(text.split())
            first["all"].append(first_ms)
            if n <= 10:
                first["short"].append(first_ms)
            elif n >= 20:
                first["long"].append(first_ms)
            hyps.append(asr.transcribe(soxr.resample(audio, synth.sample_rate, 16000).astype(np.float32),
                                       word_timestamps=False).text)
        style_wer = round(100 * wer(sentences, hyps), 2)
        result["styles"][style] = {"wer": style_wer, "rtf": round(synth_s / audio_s, 4),
                                   "misheard": [(r, h) for r, h in zip(sentences, hyps, strict=True)
                                                if wer([r], [h]) > 0]}
        print(f"{style:8s} WER {style_wer:5.2f}%  RTF {synth_s / audio_s:.3f}", flush=True)
    result["first_audio_ms"] = {k: summary(v) for k, v in first.items()}
    for k, v in result["first_audio_ms"].items():
        print(f"first audio ({k:5s}, n={v['n']}): p50 {v['p50']} ms  p95 {v['p95']} ms")
    print(f"wrote {write('tts', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
