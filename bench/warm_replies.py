"""What the TTS node synthesizes ahead at start (`warm_replies`): how many pieces, how much audio, how long.

    .venv/bin/python bench/warm_replies.py [--intents optimus_voice/config/intents.yaml] [--name warm_replies]

The fixed replies of the intents file (`deciding.policy.fixed_replies`), each one's first piece synthesized into
the piece cache as the node does, in this process (CPU time of all its threads). Writes
bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write

INTENTS = Path(__file__).resolve().parents[1] / "optimus_voice" / "config" / "intents.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=Path, default=INTENTS)
    parser.add_argument("--name", default="warm_replies", help="results file: bench/results/NAME.json")
    ns = parser.parse_args()

    from optimus_voice.deciding.policy import fixed_replies
    from optimus_voice.speaking.tts import Synthesizer

    replies = fixed_replies(ns.intents)
    synth = Synthesizer(cache_s=3600.0)
    list(synth.synthesize("Warming up."))  # the first synthesis loads what the rest reuse
    synth.cache = type(synth.cache)(synth.cache.max_samples)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    warmed = sum(synth.warm(text, style) for text, style in replies)
    result = {"machine": machine(), "replies": len(replies), "pieces_warmed": warmed,
              "audio_s": round(synth.cache.samples / synth.sample_rate, 1),
              "cpu_s": round(time.process_time() - cpu0, 2), "wall_s": round(time.perf_counter() - wall0, 2),
              "styles": sorted({style for _, style in replies})}
    print(f"{warmed} pieces of {len(replies)} fixed replies: {result['audio_s']} s of audio, {result['cpu_s']} s "
          f"of CPU ({result['wall_s']} s)")
    print(f"wrote {write(ns.name, result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
