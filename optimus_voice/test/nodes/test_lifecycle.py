"""Every node through deactivate -> cleanup -> configure -> activate, twice: it comes back active, with no timer,
subscription or publisher left over from before, and still does its job."""

import pytest
from helpers import diagnostics_of, wait_matched
from optimus_voice.contract import topics
from optimus_voice.contract.stamps import now_ns


def entities(node) -> dict[str, int]:
    return {"timers": len(list(node.timers)), "subscriptions": len(list(node.subscriptions)),
            "publishers": len(list(node.publishers)), "guards": len(list(node.guards))}


def cycle(node) -> None:
    for step, goal in ((node.trigger_deactivate, "inactive"), (node.trigger_cleanup, "unconfigured"),
                       (node.trigger_configure, "inactive"), (node.trigger_activate, "active")):
        step()
        assert node.lifecycle_state() == goal, (node.get_name(), goal)


@pytest.mark.parametrize("name", ["capture", "asr", "emotion", "dialogue", "tts", "audio_out", "face"])
def test_a_node_comes_back_whole_after_cleanup(ros_graph, probe, name, data_dir, tmp_path):
    from optimus_voice.nodes.asr_node import AsrNode
    from optimus_voice.nodes.audio_out_node import AudioOutNode
    from optimus_voice.nodes.capture_node import CaptureNode
    from optimus_voice.nodes.dialogue_node import DialogueNode
    from optimus_voice.nodes.emotion_node import EmotionNode
    from optimus_voice.nodes.face_node import FaceNode
    from optimus_voice.nodes.tts_node import TtsNode

    made = {"capture": (CaptureNode, {"source": "file", "file_path": str(data_dir / "jfk.wav"), "loop": True}),
            "asr": (AsrNode, {}), "emotion": (EmotionNode, {}), "dialogue": (DialogueNode, {"llm_url": "http://x/v1"}),
            "tts": (TtsNode, {"playback_feedback": False}),
            "audio_out": (AudioOutNode, {"output": "wav", "wav_path": str(tmp_path / "out.wav")}),
            "face": (FaceNode, {})}
    node_class, params = made[name]
    node = ros_graph.add(node_class, **params)
    before = entities(node)
    cycle(node)
    cycle(node)
    assert entities(node) == before
    assert probe.wait_for(lambda: diagnostics_of(probe, name).get("lifecycle_state") == "active", 10)
    assert "configure_failures" not in diagnostics_of(probe, name)


def test_the_tts_speaks_after_a_cleanup_cycle(ros_graph, probe):
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import SpeechProgress, SpeechRequest

    tts = ros_graph.add(TtsNode, playback_feedback=False)
    cycle(tts)
    requests = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.SPEECH_REQUEST, tts)
    turn = now_ns() // 1_000_000
    requests.publish(SpeechRequest(turn_id=turn, action=SpeechRequest.ACTION_SAY, text="I am back."))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.DONE and p.spoken_text == "I am back."
                                      for p in probe.of(topics.SPEECH_PROGRESS)), 20)
