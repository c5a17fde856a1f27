"""`optimus-voice diarize FILE... [--rttm]`: who spoke when in WAV/FLAC files or session bags."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from optimus_voice.contract.audio import SAMPLE_RATE


def bag_audio(path: str | Path) -> np.ndarray:
    """The microphone audio of a session bag as one array, placed by sample index (gaps stay silent)."""
    from optimus_voice.audio_io import bags

    pieces = [(index, samples) for samples, index, _, _ in bags.audio_chunks(path)]
    if not pieces:
        raise bags.BagError(f"bag {path} has no microphone audio")
    first = min(i for i, _ in pieces)
    out = np.zeros(max(i + len(s) for i, s in pieces) - first, np.float32)
    for index, samples in pieces:
        out[index - first:index - first + len(samples)] = samples
    return out


def read_audio(path: str) -> np.ndarray:
    from optimus_voice.audio_io.sources import load_audio

    return bag_audio(path) if Path(path).is_dir() else load_audio(path)


def cmd_diarize(ns: argparse.Namespace) -> int:
    from optimus_voice.audio_io.bags import BagError
    from optimus_voice.audio_io.sources import SourceError
    from optimus_voice.hearing.diarization import Diarizer

    diarizer = Diarizer()
    status = 0
    for path in ns.files:
        uri = "_".join(Path(path.rstrip("/")).stem.split())  # RTTM fields are separated by spaces
        try:
            audio = read_audio(path)
        except (SourceError, BagError, OSError) as exc:
            print(f"{path}: error: {exc}", file=sys.stderr)
            status = 1
            continue
        result = diarizer(audio)
        if ns.rttm:
            sys.stdout.write(result.rttm(uri))
        elif ns.json:
            print(json.dumps({"file": path, "uri": uri, "audio_s": round(len(audio) / SAMPLE_RATE, 3),
                              "voices": result.speakers, "segments": [
                                  {"start": s.start, "end": s.end, "voice": s.speaker} for s in result.segments]}))
        else:
            print(f"{path}: {len(result.speakers)} voice(s) in {len(audio) / SAMPLE_RATE:.1f} s")
            for s in result.segments:
                print(f"  {s.start:8.2f} - {s.end:8.2f}  {s.speaker}")
        sys.stdout.flush()
    return status


def add_parser(sub) -> None:
    p = sub.add_parser("diarize", help="who spoke when: RTTM or a table for WAV/FLAC files and session bags")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio file or session bag folder")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--rttm", action="store_true", help="RTTM lines (uri = the file's stem)")
    out.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(func=cmd_diarize)
