"""`optimus-voice transcribe FILE...`: the streaming ASR engine on audio files, one result per file."""

from __future__ import annotations

import argparse
import json
import sys
import time

from optimus_voice.contract.audio import SAMPLE_RATE


def transcribe_file(path: str, asr_factory) -> dict:
    """Stream a file through a fresh StreamingAsr (as fast as it decodes) and join the turns' finals."""
    from optimus_voice.audio_io.sources import FileSource
    from optimus_voice.hearing.asr import TranscriptEvent

    t0 = time.perf_counter()
    source = FileSource(path, realtime=False)
    asr = asr_factory()
    events = []
    for chunk in source.chunks():
        events += asr.push(chunk)
    events += asr.flush()
    finals = [e for e in events if isinstance(e, TranscriptEvent) and e.is_final and e.hypothesis.text]
    words = [{"text": w.text, "start": round(e.start_index / SAMPLE_RATE + w.start_s, 3),
              "end": round(e.start_index / SAMPLE_RATE + w.end_s, 3), "confidence": round(w.confidence, 3)}
             for e in finals for w in e.hypothesis.words]
    audio_s = len(source.samples) / SAMPLE_RATE
    wall_ms = (time.perf_counter() - t0) * 1000
    return {"file": path, "text": " ".join(e.hypothesis.text for e in finals), "words": words,
            "turns": [{"start": round(e.start_index / SAMPLE_RATE, 3), "text": e.hypothesis.text} for e in finals],
            "timings": {"audio_s": round(audio_s, 3), "wall_ms": round(wall_ms, 1),
                        "decode_ms": round(sum({id(e.hypothesis): e.hypothesis.decode_ms for e in events
                                                if isinstance(e, TranscriptEvent)}.values()), 1),
                        "rtf": round(wall_ms / 1000 / max(audio_s, 1e-9), 4)}}


def cmd_transcribe(ns: argparse.Namespace) -> int:
    from optimus_voice.audio_io.sources import SourceError
    from optimus_voice.hearing.asr import AsrConfig, StreamingAsr
    from optimus_voice.hearing.vad import SileroVad
    from optimus_voice.hearing.whisper import WhisperRecognizer

    recognizer = WhisperRecognizer(ns.model, beam_size=ns.beam_size, full_window=ns.full_window)
    config = AsrConfig(partial_interval_ms=0.0)  # partials change nothing in a file's result

    status = 0
    for path in ns.files:
        try:
            result = transcribe_file(path, lambda: StreamingAsr(SileroVad(), recognizer, config))
        except SourceError as exc:
            print(json.dumps({"file": path, "error": str(exc)}) if ns.json else f"{path}: error: {exc}",
                  file=sys.stdout if ns.json else sys.stderr)
            status = 1
            continue
        if ns.json:
            print(json.dumps(result), flush=True)
        else:
            t = result["timings"]
            print(f"{path}: {result['text']}  [{t['audio_s']:.1f} s audio, {t['wall_ms']:.0f} ms, RTF {t['rtf']:.3f}]")
    return status


def add_parser(sub) -> None:
    p = sub.add_parser("transcribe", help="transcribe audio files with the streaming ASR engine (VAD + Whisper)")
    p.add_argument("files", nargs="+", help="WAV/FLAC/OGG files, any rate")
    p.add_argument("--json", action="store_true", help="one JSON object per line and file")
    p.add_argument("--model", default="", help="CTranslate2 Whisper model folder (default: tiny.en, shipped)")
    p.add_argument("--beam-size", type=int, default=1, help="beam size")
    p.add_argument("--full-window", action="store_true", help="decode with Whisper's padded 30 s window")
    p.set_defaults(func=cmd_transcribe)
