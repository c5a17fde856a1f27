"""`optimus-voice report BAG`: a recorded session as a timeline PNG and per-turn latencies."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_report(ns: argparse.Namespace) -> int:
    from optimus_voice.audio_io.bags import BagError
    from optimus_voice.tools import report, turn_timing

    bag = Path(ns.bag)
    out = Path(ns.output) if ns.output else bag.parent / f"{bag.name}.png"
    try:
        messages = report.load(bag)
        result = {"bag": str(bag), "png": str(report.draw(messages, out, title=bag.name)),
                  **report.summarize(messages)}
    except BagError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    if ns.json:
        print(json.dumps(result))
        return 0
    print("\n".join(turn_timing.describe(result)))
    print(f"{result['interrupted_replies']} replies interrupted; timeline: {result['png']}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="timeline PNG and per-turn latencies of a recorded session bag")
    p.add_argument("bag", help="rosbag2 folder (optimus-voice up --record, bench e2e, or ros2 bag record)")
    p.add_argument("-o", "--output", help="PNG to write (default: next to the bag, BAG.png)")
    p.add_argument("--json", action="store_true", help="the per-turn latencies and their p50/p95 as JSON")
    p.set_defaults(func=cmd_report)
