"""`optimus-voice chat`: the dialogue policy on typed text, one turn (--text) or an interactive session."""

from __future__ import annotations

import argparse
import json
import sys

from optimus_voice.feeling.emotions import LABELS


def _print(reply, as_json: bool) -> None:
    fields = {"intent": reply.intent, "confidence": round(reply.confidence, 3), "reply": reply.text,
              "expression": reply.expression, "style": reply.style, "action": reply.action,
              "emotion": reply.emotion, "decide_ms": round(reply.decide_ms, 2)}
    if as_json:
        print(json.dumps(fields), flush=True)
    else:
        print(f"robot: {reply.text}   [{reply.intent} {reply.confidence:.2f}, {reply.expression}/{reply.style}"
              f"{', action ' + reply.action if reply.action else ''}, {reply.decide_ms:.1f} ms]", flush=True)


def cmd_chat(ns: argparse.Namespace) -> int:
    from optimus_voice.deciding.policy import Policy
    from optimus_voice.tools.supervisor import share_dir

    policy = Policy(ns.intents or share_dir() / "config" / "intents.yaml", use_embeddings=not ns.words)
    if ns.text is not None:
        reply = policy.respond(ns.text, ns.emotion, ns.mood)
        _print(reply, ns.json)
        return 0
    if sys.stdin.isatty() and not ns.json:
        print("type what you would say (Ctrl-D to end)", file=sys.stderr)
    for line in sys.stdin:
        reply = policy.respond(line.strip(), ns.emotion, ns.mood)
        policy.spoken(reply.text)  # no speaker here: all of the reply counts as said
        _print(reply, ns.json)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("chat", help="talk to the dialogue policy in text (one turn with --text, else stdin lines)")
    p.add_argument("--text", help="one user turn")
    p.add_argument("--emotion", default="neutral", choices=LABELS, help="the user's emotion for this turn")
    p.add_argument("--mood", type=float, default=0.0, help="the user's mood valence, -1..1")
    p.add_argument("--json", action="store_true", help="one JSON object per turn")
    p.add_argument("--intents", help="intents YAML (default: the package's config/intents.yaml)")
    p.add_argument("--words", action="store_true", help="match intents by words, not embeddings")
    p.set_defaults(func=cmd_chat)
