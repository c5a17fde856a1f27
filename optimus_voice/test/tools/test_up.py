"""`optimus-voice up`: the whole graph as separate processes, brought up, watched, restarted, and stopped."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from optimus_voice.contract import graph, topics


def up_status(probe) -> dict[str, dict[str, str]]:
    """The supervisor's latest view of each node, from /diagnostics."""
    out = {}
    for msg in probe.of(topics.DIAGNOSTICS):
        for s in msg.status:
            if s.name.startswith("optimus_voice/up/"):
                out[s.name.rsplit("/", 1)[1]] = {"message": s.message, **{kv.key: kv.value for kv in s.values}}
    return out


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_brings_the_graph_up_restarts_a_killed_node_and_stops_cleanly(probe, domain_id, data_dir, tmp_path):
    exe = Path(sys.prefix) / "bin" / "optimus-voice"
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}
    wav = tmp_path / "robot.wav"
    session = tmp_path / "session"
    up = subprocess.Popen([str(exe), "up", "--mic-file", str(data_dir / "cv_what_did_he_look_like.wav"),
                           "mic_loop:=true", f"audio_out_wav:={wav}", "--log-dir", str(tmp_path / "logs"),
                           "--record", str(session)],
                          env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    try:
        names = {n.name for n in graph.NODES}
        assert probe.wait_for(lambda: set(up_status(probe)) == names and all(
            s["state"] == "active" for s in up_status(probe).values()), 90), up_status(probe)
        # Every topic of the graph carries messages: the whole conversation loop runs on real speech.
        assert probe.wait_for(lambda: all(probe.messages.get(t.name) for t in topics.ALL), 90), \
            [t.name for t in topics.ALL if not probe.messages.get(t.name)]
        heard = [m.text.lower() for m in probe.of(topics.TRANSCRIPT) if m.is_final]
        assert any("what did he look" in t for t in heard), heard
        turn_ids = {m.turn_id for m in probe.of(topics.TRANSCRIPT)}
        assert {m.turn_id for m in probe.of(topics.SPEECH_REQUEST) if m.action == 0} <= turn_ids

        # Kill the recognizer mid-conversation: it is reported dead, restarted, and transcripts resume.
        asr_pid = int(up_status(probe)["asr"]["pid"])
        os.kill(asr_pid, signal.SIGKILL)
        assert probe.wait_for(lambda: up_status(probe)["asr"]["state"].startswith("died"), 15)
        assert probe.wait_for(lambda: up_status(probe)["asr"]["restarts"] == "1"
                              and up_status(probe)["asr"]["state"] == "active", 60), up_status(probe)
        assert int(up_status(probe)["asr"]["pid"]) != asr_pid
        finals_before = len([m for m in probe.of(topics.TRANSCRIPT) if m.is_final])
        assert probe.wait_for(lambda: len([m for m in probe.of(topics.TRANSCRIPT) if m.is_final]) > finals_before,
                              40)

        # Kill the dialogue too: once restarted it answers the next turn, and no other node hung meanwhile.
        dialogue_pid = int(up_status(probe)["dialogue"]["pid"])
        os.kill(dialogue_pid, signal.SIGKILL)
        assert probe.wait_for(lambda: up_status(probe)["dialogue"]["restarts"] == "1"
                              and up_status(probe)["dialogue"]["state"] == "active", 60), up_status(probe)
        replies_before = len(probe.of(topics.SPEECH_REQUEST))
        assert probe.wait_for(lambda: any(m.action == 0 for m in probe.of(topics.SPEECH_REQUEST)[replies_before:]),
                              40)
        assert all(s["state"] == "active" for s in up_status(probe).values()), up_status(probe)
        pids = [int(s["pid"]) for s in up_status(probe).values()]
    finally:
        up.send_signal(signal.SIGINT)  # one SIGINT, as Ctrl-C would send
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    stopped = next(line for line in output.splitlines() if "all nodes stopped" in line)
    codes = dict(item.split("=") for item in stopped.split(": ", 1)[1].split(", "))
    logs = {name: (tmp_path / "logs" / f"{name}.log").read_text(errors="replace")[-2000:]
            for name, code in codes.items() if code != "0"}
    assert codes == {name: "0" for name in names}, (stopped, logs)  # every node shut down cleanly on SIGINT
    assert not [p for p in pids if pid_alive(p)]
    assert wav.stat().st_size > 44  # the robot's replies were played into the WAV

    # The recorded session becomes a timeline and per-turn latencies.
    report = subprocess.run([str(exe), "report", str(session), "-o", str(tmp_path / "timeline.png"), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    result = json.loads(report.stdout)
    assert (tmp_path / "timeline.png").stat().st_size > 20_000
    answered = [t for t in result["turns"] if "first_audio" in t and "what did he look" in t["heard"].lower()]
    assert answered, result["turns"]
    # Stages in causal order: the transcript, then the decision, then the reply's first audio.
    assert all(0 < t["final_transcript"] <= t["reply_decided"] <= t["first_audio"] for t in answered), answered
    assert result["voice_to_voice_ms"]["n"] == len([t for t in result["turns"] if "first_audio" in t])
