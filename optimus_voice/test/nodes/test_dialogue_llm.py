"""The dialogue node with a language model: sentences spoken as they stream, commands kept embedded, the context of
what was played, and the embedded reply when the model is down (helpers.FakeChatServer stands in for the server)."""

import time

import pytest
from helpers import ANSWER, FakeChatServer, diagnostics_of, wait_matched
from optimus_voice.contract import topics
from optimus_voice.contract.stamps import now_ns


@pytest.fixture
def chat_server():
    server = FakeChatServer()
    yield server
    server.close()


def test_dialogue_speaks_the_model_a_sentence_at_a_time_and_falls_back_when_it_is_down(ros_graph, probe,
                                                                                        chat_server):
    from optimus_voice.nodes.dialogue_node import DialogueNode

    from optimus_voice_msgs.msg import SpeechProgress, Transcript

    dialogue = ros_graph.add(DialogueNode, llm_url=chat_server.url, emotion_wait_ms=0.0)
    transcripts = probe.publisher(topics.TRANSCRIPT)
    progress = probe.publisher(topics.SPEECH_PROGRESS)
    assert wait_matched(probe, topics.TRANSCRIPT, dialogue)
    assert wait_matched(probe, topics.SPEECH_PROGRESS, dialogue)
    turn = now_ns() // 1_000_000
    transcripts.publish(Transcript(turn_id=turn, text="what do you think about jazz music", is_final=True))
    assert probe.wait_for(lambda: len(probe.of(topics.SPEECH_REQUEST)) >= 3, 10)
    says = [r for r in probe.of(topics.SPEECH_REQUEST) if r.turn_id == turn]
    assert " ".join(r.text for r in says) == ANSWER and len(says) == 3
    # A command never goes to the model: the embedded policy answers it (and owns the action).
    transcripts.publish(Transcript(turn_id=turn + 1, text="please speak louder", is_final=True))
    assert probe.wait_for(lambda: any(r.turn_id == turn + 1 for r in probe.of(topics.SPEECH_REQUEST)), 10)
    assert len(chat_server.requests) == 1
    # The user interrupted the first reply after its first words: only those reach the next request's context.
    progress.publish(SpeechProgress(turn_id=turn, state=SpeechProgress.INTERRUPTED, spoken_text="Jazz is music"))
    time.sleep(0.3)
    transcripts.publish(Transcript(turn_id=turn + 2, text="who invented the saxophone", is_final=True))
    assert probe.wait_for(lambda: len(chat_server.requests) == 2, 10)
    assert {"role": "assistant", "content": "Jazz is music"} in chat_server.requests[1]["messages"]

    # The endpoint goes away: the embedded clarification is spoken instead, and it is counted.
    chat_server.close()
    transcripts.publish(Transcript(turn_id=turn + 3, text="what do you think about opera", is_final=True))
    assert probe.wait_for(lambda: any(r.turn_id == turn + 3 for r in probe.of(topics.SPEECH_REQUEST)), 10)
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "dialogue").get("llm_fallbacks", 0)) == 1, 5)
