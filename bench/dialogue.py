"""Dialogue benchmark: intent accuracy on unseen paraphrases, clarification on off-topic input, policy latency.

    .venv/bin/python bench/dialogue.py [--paraphrases bench/data/dialogue_paraphrases.yaml] [--words]

Accuracy counts an in-scope paraphrase right when the policy picks its intent; an off-topic input is right when
the policy answers with the clarification (intent `unknown`). Latency is the whole `Policy.respond` call
(embedding, matching, reply), measured per query. Also reported: model load and import time.
Prints a summary and writes bench/results/dialogue.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, summary, write

INTENTS = ROOT / "optimus_voice" / "config" / "intents.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paraphrases", type=Path,
                        default=Path(__file__).parent / "data" / "dialogue_paraphrases.yaml")
    parser.add_argument("--intents", type=Path, default=INTENTS)
    parser.add_argument("--words", action="store_true", help="the bag-of-words fallback instead of embeddings")
    parser.add_argument("--threshold", type=float, help="override the policy's default threshold")
    ns = parser.parse_args()

    t0 = time.perf_counter()
    from optimus_voice.deciding.policy import Policy
    import_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    kwargs = {"use_embeddings": not ns.words}
    if ns.threshold is not None:
        kwargs["threshold"] = ns.threshold
    policy = Policy(ns.intents, **kwargs)
    load_ms = (time.perf_counter() - t0) * 1000

    spec = yaml.safe_load(ns.paraphrases.read_text())
    config = yaml.safe_load(ns.intents.read_text())["intents"]
    examples = {e.lower() for i in config.values() for e in i.get("examples", [])}
    cases = [(t, intent) for intent, texts in spec["intents"].items() for t in texts] + \
            [(t, "unknown") for t in spec["unknown"]]
    leaked = [t for t, _ in cases if t.lower() in examples]
    if leaked:
        raise SystemExit(f"paraphrases that are config examples (not unseen): {leaked}")

    for text, _ in cases[:5]:  # warm-up
        policy.respond(text)
    errors, latencies, per_intent = [], [], {}
    for text, want in cases:
        t = time.perf_counter()
        reply = policy.respond(text)
        latencies.append((time.perf_counter() - t) * 1000)
        ok = reply.intent == want
        per_intent.setdefault(want, [0, 0])
        per_intent[want][0] += ok
        per_intent[want][1] += 1
        if not ok:
            errors.append({"text": text, "want": want, "got": reply.intent, "score": round(reply.confidence, 3)})
    in_scope = [c for c in cases if c[1] != "unknown"]
    in_ok = sum(per_intent[i][0] for i in per_intent if i != "unknown")
    result = {
        "machine": machine(), "matcher": policy.matcher.backend, "threshold": policy.matcher.threshold,
        "intent_accuracy": round(100 * in_ok / len(in_scope), 1),
        "unknown_to_clarification": round(100 * per_intent["unknown"][0] / per_intent["unknown"][1], 1),
        "per_intent": {k: f"{v[0]}/{v[1]}" for k, v in per_intent.items()},
        "policy_ms": summary(latencies), "import_ms": round(import_ms, 1), "load_ms": round(load_ms, 1),
        "cases": len(cases), "errors": errors,
    }
    print(f"matcher {result['matcher']} (threshold {result['threshold']}), {len(in_scope)} paraphrases, "
          f"{per_intent['unknown'][1]} off-topic")
    print(f"intent accuracy {result['intent_accuracy']}%   off-topic -> clarification "
          f"{result['unknown_to_clarification']}%")
    print(f"policy decision p50 {result['policy_ms']['p50']} ms p95 {result['policy_ms']['p95']} ms; "
          f"import {import_ms:.0f} ms, load {load_ms:.0f} ms")
    for e in errors:
        print(f"  miss: {e['text']!r}: want {e['want']}, got {e['got']} ({e['score']})")
    print(f"wrote {write('dialogue_words' if ns.words else 'dialogue', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
