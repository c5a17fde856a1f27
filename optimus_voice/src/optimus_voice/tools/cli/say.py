"""`optimus-voice say TEXT`: the TTS engine to a WAV file, with first-audio latency and the lip-sync visemes."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

# The emotion the robot speaks with -> speaking style (STYLES in speaking/tts.py).
EMOTION_STYLE = {"neutral": "neutral", "happy": "happy", "sad": "sad", "calm": "calm", "excited": "excited",
                 "surprised": "excited", "angry": "calm", "fearful": "calm", "disgust": "calm", "concerned": "calm"}


def cmd_say(ns: argparse.Namespace) -> int:
    import soundfile as sf
    from optimus_voice.speaking.tts import Synthesizer

    t0 = time.perf_counter()
    synth = Synthesizer(ns.voice)
    load_ms = (time.perf_counter() - t0) * 1000
    style = EMOTION_STYLE[ns.emotion]
    t0 = time.perf_counter()
    first_ms, pieces, visemes, audio, offset = None, [], [], [], 0
    for chunk in synth.synthesize(ns.text, style, ns.rate, ns.volume):
        if first_ms is None:
            first_ms = (time.perf_counter() - t0) * 1000
        pieces.append({"text": chunk.text, "synth_ms": round(chunk.synth_ms, 1),
                       "seconds": round(len(chunk.samples) / chunk.sample_rate, 3)})
        rate = chunk.sample_rate
        visemes += [{"viseme": v.viseme, "phonemes": v.phonemes, "start": round((offset + v.start) / rate, 3),
                     "duration": round(v.samples / rate, 3)} for v in chunk.visemes]
        audio.append(chunk.samples)
        offset += len(chunk.samples)
    total_ms = (time.perf_counter() - t0) * 1000
    samples = np.concatenate(audio) if audio else np.zeros(0, np.float32)
    sf.write(ns.output, samples, synth.sample_rate, subtype="PCM_16")
    seconds = len(samples) / synth.sample_rate
    result = {"text": ns.text, "output": ns.output, "backend": synth.backend, "style": style,
              "first_audio_ms": round(first_ms or 0.0, 1), "synth_ms": round(total_ms, 1), "audio_s": round(seconds, 3),
              "rtf": round(total_ms / 1000 / max(seconds, 1e-9), 4), "load_ms": round(load_ms, 1),
              "pieces": pieces, "visemes": visemes}
    if ns.json:
        print(json.dumps(result))
    else:
        print(f"{ns.output}: {seconds:.2f} s of {synth.backend} speech ({style}); first audio after "
              f"{result['first_audio_ms']:.0f} ms, all after {total_ms:.0f} ms (RTF {result['rtf']:.3f})")
        print("visemes: " + " ".join(f"{v['viseme']}@{v['start']:.2f}" for v in visemes))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("say", help="synthesize TEXT to a WAV; print first-audio latency and the visemes")
    p.add_argument("text", help="what to say")
    p.add_argument("-o", "--output", required=True, help="WAV file to write")
    p.add_argument("--emotion", default="neutral", choices=sorted(EMOTION_STYLE), help="how to say it")
    p.add_argument("--rate", type=float, default=1.0, help="speaking rate factor")
    p.add_argument("--volume", type=float, default=1.0, help="volume factor")
    p.add_argument("--voice", default="", help="Piper voice .onnx (default: en_US-joe-medium, shipped)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_say)
