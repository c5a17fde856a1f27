"""Reading how the user wants the robot to speak: which way and how much, on requests the rules were not written
from (the `report` half of bench/data/adjustments.yaml; the `tune` half is printed too, and says so).

    python bench/adjustments.py [--words]

Each request goes through the whole embedded policy (intent matching, then the adjustment from the words).
Writes bench/results/adjustments.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, write

CASES = Path(__file__).resolve().parent / "data" / "adjustments.yaml"
INTENTS = ROOT / "optimus_voice" / "config" / "intents.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", action="store_true", help="the bag-of-words matcher instead of embeddings")
    ns = parser.parse_args()
    from optimus_voice.deciding.policy import Policy

    policy = Policy(INTENTS, use_embeddings=not ns.words)
    config = yaml.safe_load(INTENTS.read_text())["intents"]
    examples = {e.lower() for i in config.values() for e in i.get("examples", [])}
    result: dict = {"machine": machine(), "matcher": policy.matcher.backend}
    for half, cases in yaml.safe_load(CASES.read_text()).items():
        leaked = [t for t, _, _ in cases if t.lower() in examples]
        if leaked:
            raise SystemExit(f"cases that are config examples (not unseen): {leaked}")
        way = amount = 0
        misses = []
        for text, intent, steps in cases:
            reply = policy.respond(text)
            got = "volume_set" if reply.action == "volume_set" else reply.intent
            way += got == intent
            amount += got == intent and reply.amount == steps
            if got != intent or reply.amount != steps:
                misses.append({"text": text, "want": [intent, steps], "got": [got, reply.amount]})
        result[half] = {"cases": len(cases), "way_right_pct": round(100 * way / len(cases), 1),
                        "way_and_amount_right_pct": round(100 * amount / len(cases), 1), "misses": misses}
        print(f"{half:7s} ({'rules tuned on it' if half == 'tune' else 'held out'}): {len(cases)} requests, way right "
              f"{result[half]['way_right_pct']}%, way and amount right {result[half]['way_and_amount_right_pct']}%")
        for m in misses:
            print(f"    {m['text']!r}: want {m['want']}, got {m['got']}")
    print(f"wrote {write('adjustments_words' if ns.words else 'adjustments', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
