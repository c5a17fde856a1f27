"""`optimus-voice up`: the whole graph as separate processes, brought up by the lifecycle manager, nodes killed
and brought back whatever way they died, Ctrl-C as a terminal sends it, and a recorded session's report."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import Up, up_status
from lifecycle_msgs.msg import Transition
from optimus_voice.contract import graph, topics


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def trouble(log: str) -> str:
    """The part of a node's log showing it did not stop cleanly (from its first traceback on), or ''. Whole, so a
    failure in CI says where it came from."""
    marks = [i for i in (log.find("Traceback"), log.find("context is invalid")) if i >= 0]
    return log[max(0, min(marks) - 300):min(marks) + 5000] if marks else ""


def stop_trouble(up: Up) -> str:
    """The end of the log of each node that did not exit 0: a node that hung at exit wrote every thread's stack
    there (nodes.base.STOP_STACKS_S) before it was killed."""
    codes = up.exit_codes() if "all nodes stopped" in (up.output or "") else {}
    logs = up.logs()
    return "".join(f"\n--- {name}.log (exit {code}), its end:\n{logs.get(name, '')[-6000:]}"
                   for name, code in codes.items() if code != "0")


def lifecycle_set(probe, node: str, transition: int) -> bool:
    """What `ros2 lifecycle set /node <transition>` does: one request to the node's change_state service."""
    from lifecycle_msgs.srv import ChangeState

    client = probe.node.create_client(ChangeState, f"/{node}/change_state")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
    assert probe.wait_for(lambda: future.done(), 10)
    probe.node.destroy_client(client)
    return future.result().success


def all_active(probe, names) -> bool:
    status = up_status(probe)
    return all(status.get(n, {}).get("state") == "active" and status[n].get("process") == "running"
               for n in names)


def kill_and_wait_back(probe, name: str, timeout_s: float = 90.0) -> None:
    """SIGKILL one node's process: it is reported dead, respawned, and the manager brings it back to active."""
    before = up_status(probe)[name]
    os.kill(int(before["pid"]), signal.SIGKILL)
    assert probe.wait_for(lambda: up_status(probe)[name]["process"].startswith("died"), 15)
    assert probe.wait_for(lambda: up_status(probe)[name].get("restarts") == str(int(before["restarts"]) + 1)
                          and up_status(probe)[name].get("state") == "active"
                          and up_status(probe)[name].get("instance") != before.get("instance"), timeout_s), \
        up_status(probe)[name]


def test_up_brings_the_graph_up_brings_killed_nodes_back_and_stops_cleanly(probe, domain_id, data_dir, tmp_path):
    wav, session = tmp_path / "robot.wav", tmp_path / "session"
    up = Up("--mic-file", str(data_dir / "cv_what_did_he_look_like.wav"), "mic_loop:=true", f"audio_out_wav:={wav}",
            "--record", str(session), log_dir=tmp_path / "logs", domain_id=domain_id)
    names = graph.managed_nodes({"mic_source": "file"})  # llm:=off by default: no language-model server
    try:
        assert probe.wait_for(lambda: all_active(probe, names), 120), up_status(probe)
        # Every topic of the graph carries messages (a microphone array's only with an array, test_capture_array):
        # the whole conversation loop runs on real speech.
        mono = [t for t in topics.ALL if not t.array_only]
        assert probe.wait_for(lambda: all(probe.messages.get(t.name) for t in mono), 90), \
            [t.name for t in mono if not probe.messages.get(t.name)]
        heard = [m.text.lower() for m in probe.of(topics.TRANSCRIPT) if m.is_final]
        assert any("what did he look" in t for t in heard), heard
        turn_ids = {m.turn_id for m in probe.of(topics.TRANSCRIPT)}
        assert {m.turn_id for m in probe.of(topics.SPEECH_REQUEST) if m.action == 0} <= turn_ids

        # The recognizer is killed mid-conversation: back to active, and transcripts resume.
        kill_and_wait_back(probe, "asr")
        finals = len([m for m in probe.of(topics.TRANSCRIPT) if m.is_final])
        assert probe.wait_for(lambda: len([m for m in probe.of(topics.TRANSCRIPT) if m.is_final]) > finals, 40)
        # The lifecycle manager itself dies, and then the dialogue: the new manager brings the dialogue back, and it
        # answers the next turn.
        manager = up_status(probe)["lifecycle_manager"]
        os.kill(int(manager["pid"]), signal.SIGKILL)
        assert probe.wait_for(lambda: up_status(probe)["lifecycle_manager"]["restarts"] == "1"
                              and up_status(probe)["lifecycle_manager"]["process"] == "running", 20)
        kill_and_wait_back(probe, "dialogue")
        replies = len(probe.of(topics.SPEECH_REQUEST))
        assert probe.wait_for(lambda: any(m.action == 0 for m in probe.of(topics.SPEECH_REQUEST)[replies:]), 40)
        # An operator's `ros2 lifecycle set /face deactivate`: the manager leaves it so (it used to undo it), and
        # activates nothing behind their back; `ros2 lifecycle set /face activate` brings it back.
        assert lifecycle_set(probe, "face", Transition.TRANSITION_DEACTIVATE)
        time.sleep(4.0)  # heartbeats come once a second
        assert up_status(probe)["face"]["state"] == "inactive", up_status(probe)["face"]
        assert lifecycle_set(probe, "face", Transition.TRANSITION_ACTIVATE)
        assert probe.wait_for(lambda: all_active(probe, names), 20), up_status(probe)
        pids = [int(s["pid"]) for s in up_status(probe).values()]
    finally:
        # Ctrl-C in a terminal reaches every process of the group, and then `up` (as ros2 launch does) sends one
        # SIGINT to each node again.
        for s in up_status(probe).values():
            if s.get("pid"):
                os.kill(int(s["pid"]), signal.SIGINT)
        code = up.stop()
    assert code == 0, up.output + stop_trouble(up)
    bad = {name: part for name, log in up.logs().items() if (part := trouble(log))}
    assert not bad, "\n".join(f"--- {name}.log:\n{part}" for name, part in bad.items())
    assert up.exit_codes() == {name: "0" for name in [*names, "lifecycle_manager"]}, up.output + stop_trouble(up)
    assert not [p for p in pids if pid_alive(p)]
    assert wav.stat().st_size > 44  # the robot's replies were played into the WAV

    # The recorded session becomes a timeline and per-turn latencies.
    exe = Path(sys.prefix) / "bin" / "optimus-voice"
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


STARTS = int(os.environ.get("OPTIMUS_VOICE_STARTS", "5"))


def test_the_first_word_is_heard_on_every_start(probe, domain_id, data_dir, tmp_path):
    """The microphone goes live only once the recognizer listens: JFK's first word ("And so, my fellow
    Americans") is in the first transcript of every start."""
    firsts = []
    for start in range(STARTS):
        finals_before = len([m for m in probe.of(topics.TRANSCRIPT) if m.is_final])
        up = Up("--mic-file", str(data_dir / "jfk.wav"), log_dir=tmp_path / f"logs{start}", domain_id=domain_id)
        try:
            assert probe.wait_for(
                lambda n=finals_before: len([m for m in probe.of(topics.TRANSCRIPT) if m.is_final]) > n, 120)
            firsts.append([m for m in probe.of(topics.TRANSCRIPT) if m.is_final][finals_before].text)
        finally:
            assert up.stop() == 0, up.output
        time.sleep(0.5)
    assert all(t.lower().startswith("and so") for t in firsts), firsts


def test_a_node_that_cannot_configure_is_retried_and_holds_nothing_up(probe, domain_id, data_dir, tmp_path):
    """A language-model file that is not a model: the llm node's configure fails, again and again, while the rest
    of the stack comes up; the manager says why and lives on (it once died logging the first failure)."""
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model" * 100)
    up = Up("--mic-file", str(data_dir / "jfk.wav"), "llm:=local", f"llm_model:={broken}", log_dir=tmp_path / "logs",
            domain_id=domain_id)
    others = graph.managed_nodes({"mic_source": "file"})  # every node but the llm

    def llm_manager_values() -> dict[str, str]:
        for msg in reversed(probe.of(topics.DIAGNOSTICS)):
            for s in msg.status:
                if s.name == "optimus_voice/manager/llm":
                    return {kv.key: kv.value for kv in s.values}
        return {}

    try:
        assert probe.wait_for(lambda: all_active(probe, others)
                              and int(llm_manager_values().get("failures", 0)) >= 2, 120), up_status(probe)
        assert up_status(probe)["lifecycle_manager"]["restarts"] == "0"
        assert up_status(probe)["llm"]["state"] == "unconfigured"
        assert "configure refused" in llm_manager_values()["last_error"]
    finally:
        code = up.stop()
    assert code == 0, up.output
    assert "Traceback" not in up.logs()["lifecycle_manager"]
    assert "broken.gguf" in up.logs()["llm"]
