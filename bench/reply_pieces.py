"""Which turns of `optimus-voice bench e2e` runs began with a piece the TTS had spoken before (its piece cache).

    .venv/bin/python bench/reply_pieces.py bench/results/e2e_cache_on_1.json ... [--name e2e_cache_hits]

Reads each run's session bag (the `session_bag` its JSON names, while it still exists) for the style of every
reply, and splits the run's voice-to-voice times by whether the reply's first piece, in that style, had been
spoken earlier in the run. Writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import summary, write
from optimus_voice.audio_io.bags import deserialize, read
from optimus_voice.contract import topics
from optimus_voice.speaking.tts import split_text


def pieces(result_path: str) -> dict:
    result = json.loads(Path(result_path).read_text())
    requests = [deserialize(m) for m in read(result["session_bag"], [topics.SPEECH_REQUEST.name])]
    said = {r.turn_id: r for r in requests if r.action == r.ACTION_SAY}
    seen: set[tuple[str, str]] = set()
    turns = []
    for turn in result["turns"]:
        request = said.get(turn["turn_id"])
        if request is None or "first_audio" not in turn:
            continue
        key = (split_text(request.text)[0], request.style)
        turns.append({"clip": turn.get("clip"), "first_piece": key[0], "style": key[1], "spoken_before": key in seen,
                      "voice_to_voice_ms": turn["first_audio"]})
        seen.add(key)
    again = [t["voice_to_voice_ms"] for t in turns if t["spoken_before"]]
    new = [t["voice_to_voice_ms"] for t in turns if not t["spoken_before"]]
    return {"result": Path(result_path).name, "commit": result["machine"]["commit"], "turns": len(turns),
            "spoken_before": len(again), "voice_to_voice_spoken_before_ms": summary(again),
            "voice_to_voice_new_ms": summary(new), "per_turn": turns}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+")
    parser.add_argument("--name", default="e2e_cache_hits")
    ns = parser.parse_args()
    runs = [pieces(path) for path in ns.results]
    for run in runs:
        print(f"{run['result']}: {run['spoken_before']} of {run['turns']} turns began with a piece spoken before; "
              f"voice to voice {run['voice_to_voice_spoken_before_ms']} / new {run['voice_to_voice_new_ms']}")
    write(ns.name, {"runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
