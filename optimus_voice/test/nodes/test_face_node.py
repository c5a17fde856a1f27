"""What the face actually commands for a reply with visemes: the reply's expression while the robot speaks, a
mouth that moves through the reply's visemes in time, and a closed mouth once the speech is cut off."""

import time

from helpers import wait_matched
from optimus_voice.contract import topics
from optimus_voice.contract.stamps import from_time, now_ns
from optimus_voice.speaking.visemes import VISEMES


def test_the_face_speaks_the_reply_and_stops_with_the_voice(ros_graph, probe):
    from optimus_voice.nodes.face_node import FaceNode
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import DialogueState, SpeechProgress, SpeechRequest

    face = ros_graph.add(FaceNode)
    tts = ros_graph.add(TtsNode, playback_feedback=False)
    state, requests = probe.publisher(topics.DIALOGUE_STATE), probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.SPEECH_REQUEST, face, tts) and wait_matched(probe, topics.DIALOGUE_STATE, face)
    assert probe.wait_for(lambda: tts.visemes_pub.get_subscription_count() >= 2, 10)
    turn = now_ns() // 1_000_000
    state.publish(DialogueState(state=DialogueState.SPEAKING, turn_id=turn))
    requests.publish(SpeechRequest(turn_id=turn, action=SpeechRequest.ACTION_SAY, expression="happy", style="happy",
                                   text="Hello there! My name is Optimus, and I am happy to meet you today."))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.STARTED for p in probe.of(topics.SPEECH_PROGRESS)), 20)
    time.sleep(1.5)
    talking = [f for f in probe.of(topics.FACE) if f.visemes]
    assert len(talking) > 10, "the face is commanded at its fast rate while the mouth moves"
    assert {f.expression for f in talking[-5:]} == {"happy"}
    assert all(v.viseme in VISEMES for f in talking for v in f.visemes)
    # Each command lists the viseme heard now first, then those due within the horizon, in time order.
    for f in talking:
        starts = [from_time(v.start) for v in f.visemes]
        assert starts == sorted(starts) and starts[0] <= from_time(f.header.stamp) < starts[0] + 10**9
    assert len({f.visemes[0].viseme for f in talking}) >= 4, "the mouth moves through the reply's shapes"

    requests.publish(SpeechRequest(turn_id=turn, action=SpeechRequest.ACTION_STOP))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.INTERRUPTED
                                      for p in probe.of(topics.SPEECH_PROGRESS)), 5)
    time.sleep(0.5)
    cut = next(from_time(p.header.stamp) for p in probe.of(topics.SPEECH_PROGRESS)
               if p.state == SpeechProgress.INTERRUPTED)
    after = [f for f in probe.of(topics.FACE) if from_time(f.header.stamp) > cut + 50_000_000]  # one in flight
    assert after and not any(f.visemes for f in after), "the mouth stops with the voice"
