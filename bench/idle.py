"""Idle listening benchmark: CPU of every node while the microphone hears only silence.

    .venv/bin/python bench/idle.py [--windows 4] [--window-s 8] [--settle-s 3] [--set NODE.PARAM=VALUE]
                                   [--name idle]

Starts the whole graph as separate processes (as `optimus-voice up` does) with a file of digital silence played
in real time as the microphone, lets it settle, then samples each node's CPU with psutil over a few windows.
Prints the mean per node and the whole stack in % of one core, writes bench/results/<name>.json (default idle.json;
`--set asr.voice_ids=false --name idle_voices_off` measures what a feature costs while nobody speaks).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--window-s", type=float, default=8.0)
    parser.add_argument("--settle-s", type=float, default=3.0)
    parser.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="a node parameter for this run, as `optimus-voice up --set`")
    parser.add_argument("--name", default="idle", help="results file: bench/results/NAME.json")
    ns = parser.parse_args()

    import psutil
    import soundfile as sf
    from optimus_voice.tools.supervisor import Supervisor, parse_overrides

    tmp = Path(tempfile.mkdtemp(prefix="optimus_voice_idle_"))
    silence = tmp / "silence.wav"
    sf.write(silence, np.zeros(16000 * 600, np.int16), 16000)
    overrides = parse_overrides(ns.set)
    sup = Supervisor({"mic_source": "file", "mic_file": str(silence), "audio_out_wav": str(tmp / "out.wav")},
                     overrides, log_dir=tmp / "logs", echo=lambda *a: None)
    try:
        if not sup.start(timeout_s=120):
            print(f"the graph did not come up: {sup.status()}", file=sys.stderr)
            return 1
        procs = {name: psutil.Process(m.process.pid) for name, m in sup.nodes.items()}
        time.sleep(ns.settle_s)
        windows = []
        for _ in range(ns.windows):
            for p in procs.values():
                p.cpu_percent(None)
            time.sleep(ns.window_s)
            windows.append({name: p.cpu_percent(None) for name, p in procs.items()})
    finally:
        sup.stop()
    per_node = {name: round(float(np.mean([w[name] for w in windows])), 1) for name in procs}
    totals = [round(sum(w.values()), 1) for w in windows]
    for name, cpu in per_node.items():
        print(f"  {name:10s} {cpu:5.1f}% of one core")
    print(f"whole stack {np.mean(totals):.1f}% of one core (windows of {ns.window_s:g} s: {totals})")
    path = write(ns.name, {"machine": machine(), "overrides": overrides, "window_s": ns.window_s,
                           "per_node_percent": per_node, "whole_stack_percent": round(float(np.mean(totals)), 1),
                           "windows_percent": totals})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
