"""The stack under the real `ros2 launch`, as on the robot: bring-up time, the first word heard, nodes SIGKILLed and
brought back by the lifecycle manager, and Ctrl-C to the whole process group.

    python bench/launch_check.py [--ros2 ros2] [--namespace NS] [--arg NAME:=VALUE ...] [--name NAME]

Needs a real ROS 2 Jazzy `ros2` with `launch_ros` (on the robot: source /opt/ros/jazzy and the workspace). The
microphone is JFK's clip from optimus_voice/test/data, looped; the speaker writes to a WAV. Writes
bench/results/launch_check[_NS].json, or NAME.json.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, write
from optimus_voice.contract import graph, topics
from optimus_voice.tools.probe import TopicProbe
from optimus_voice.tools.stack_watch import stack_status

JFK = ROOT / "optimus_voice" / "test" / "data" / "jfk.wav"


def pid_of(name: str) -> int | None:
    out = subprocess.run(["pgrep", "-f", f"lib/optimus_voice/{name}_node"], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out.split() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ros2", default="ros2", help="the ros2 command (default: ros2 on PATH)")
    parser.add_argument("--namespace", default="")
    parser.add_argument("--kill", nargs="*", default=["asr", "face"], help="nodes to SIGKILL one after the other")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME:=VALUE",
                        help="another launch argument (asr_recognizer:=moonshine)")
    parser.add_argument("--name", help="results file: bench/results/NAME.json")
    ns = parser.parse_args()

    names = graph.managed_nodes({"mic_source": "file"})  # llm:=off: no language-model server
    probe = TopicProbe((topics.TRANSCRIPT, topics.SPEECH_REQUEST, topics.DIAGNOSTICS),
                       namespace=f"/{ns.namespace}" if ns.namespace else "")
    log_path = Path(tempfile.mkdtemp(prefix="optimus_voice_launch_")) / "launch.log"
    args = [ns.ros2, "launch", "optimus_voice", "voice.launch.py", "mic_source:=file", f"mic_file:={JFK}",
            "mic_loop:=true", f"audio_out_wav:={log_path.parent / 'robot.wav'}"]
    if ns.namespace:
        args.append(f"namespace:={ns.namespace}")
    args += ns.arg
    with log_path.open("w") as log:
        launch = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def states() -> dict[str, str | None]:
        status = stack_status(probe.of(topics.DIAGNOSTICS))
        return {n: status.get(n, {}).get("state") for n in names}

    def finals() -> list[str]:
        return [m.text for m in probe.of(topics.TRANSCRIPT) if m.is_final]

    result: dict = {"machine": machine(), "command": " ".join(args), "namespace": ns.namespace, "kills": []}
    t0 = time.monotonic()
    try:
        result["all_active"] = probe.wait_for(lambda: all(s == "active" for s in states().values()), 120)
        result["all_active_after_s"] = round(time.monotonic() - t0, 1)
        probe.wait_for(lambda: bool(finals()), 60)
        result["first_final"] = finals()[0] if finals() else None
        result["recognizer"] = next((kv.value for m in reversed(probe.of(topics.DIAGNOSTICS)) for st in m.status
                                     if st.name.endswith("/asr") for kv in st.values if kv.key == "recognizer"), None)
        for victim in ns.kill:
            before, pid = len(finals()), pid_of(victim)
            os.kill(pid, signal.SIGKILL)
            t1 = time.monotonic()
            probe.wait_for(lambda v=victim: states()[v] != "active", 15)
            back = probe.wait_for(lambda v=victim, p=pid: states()[v] == "active" and pid_of(v) not in (None, p), 90)
            kill = {"node": victim, "active_again": back, "after_s": round(time.monotonic() - t1, 1)}
            kill["transcripts_resume"] = probe.wait_for(lambda b=before: len(finals()) > b, 40)
            result["kills"].append(kill)
        result["replies"] = len([m for m in probe.of(topics.SPEECH_REQUEST) if m.action == 0])
    finally:
        os.killpg(launch.pid, signal.SIGINT)  # Ctrl-C in the terminal: every process of the group gets it
        launch.wait(timeout=60)
        probe.close()
    text = log_path.read_text(errors="replace")
    result["launch_exit_code"] = launch.returncode
    result["finished_cleanly"] = len(re.findall(r"process has finished cleanly", text))
    result["died"] = re.findall(r"\[(\w+)-\d+\]: process has died \[pid \d+, exit code (-?\d+)", text)
    result["tracebacks"] = text.count("Traceback")
    for key, value in result.items():
        if key != "machine":
            print(f"{key}: {value}")
    name = ns.name or "launch_check" + ("_" + ns.namespace if ns.namespace else "")
    print(f"wrote {write(name, result)}")
    return 0 if result["all_active"] and launch.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
