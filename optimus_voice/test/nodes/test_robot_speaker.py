"""With the robot's own speaker (our speaker node not running, nothing reporting what was played): the TTS follows
the clock and says so, so the dialogue still knows it is speaking, hears its own echo for what it is, stops for a
real barge-in with the words actually played, and repeats what was heard."""

from helpers import diagnostics_of, wait_matched
from optimus_voice.contract import topics
from optimus_voice.contract.stamps import now_ns


def test_speaking_barge_in_echo_and_say_again_without_our_speaker(ros_graph, probe):
    from optimus_voice.nodes.dialogue_node import DialogueNode
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import DialogueState, SpeechProgress, SpeechRequest, Transcript, VoiceActivity

    dialogue = ros_graph.add(DialogueNode, emotion_wait_ms=0.0)
    ros_graph.add(TtsNode, playback_timeout_s=0.4)  # expects reports, as with our speaker node; none come
    activity, transcripts = probe.publisher(topics.VOICE_ACTIVITY), probe.publisher(topics.TRANSCRIPT)
    assert wait_matched(probe, topics.VOICE_ACTIVITY, dialogue) and wait_matched(probe, topics.TRANSCRIPT, dialogue)

    def turn(turn_id, text, final=True):
        activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_START, turn_id=turn_id))
        if final:
            activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_END, turn_id=turn_id))
        transcripts.publish(Transcript(turn_id=turn_id, text=text, is_final=final))

    def progress(turn_id, state):
        return [p for p in probe.of(topics.SPEECH_PROGRESS) if p.turn_id == turn_id and p.state == state]

    def says(turn_id):
        return [r for r in probe.of(topics.SPEECH_REQUEST) if r.turn_id == turn_id and r.action == r.ACTION_SAY]

    first = now_ns() // 1_000_000
    turn(first, "what can you do")
    assert probe.wait_for(lambda: progress(first, SpeechProgress.STARTED), 20)
    assert probe.wait_for(lambda: probe.of(topics.DIALOGUE_STATE)[-1].state == DialogueState.SPEAKING, 5)
    assert probe.wait_for(lambda: diagnostics_of(probe, "tts").get("progress_from") == "clock", 5)
    assert int(diagnostics_of(probe, "tts").get("playback_reports_missing", 0)) == 1
    reply = says(first)[0].text

    # Its own voice in the microphone: not a barge-in, not answered.
    echo = now_ns() // 1_000_000
    activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_START, turn_id=echo))
    transcripts.publish(Transcript(turn_id=echo, text=" ".join(reply.split()[:6]), is_final=False))
    activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_END, turn_id=echo))
    transcripts.publish(Transcript(turn_id=echo, text=" ".join(reply.split()[:6]), is_final=True))
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "dialogue").get("transcripts_not_answered", 0)) == 1, 5)
    assert not says(echo) and not progress(first, SpeechProgress.INTERRUPTED)

    # A real barge-in: stopped at once, with the words the clock says were played.
    barge = now_ns() // 1_000_000
    turn(barge, "hold on, who made you", final=False)
    assert probe.wait_for(lambda: progress(first, SpeechProgress.INTERRUPTED), 5)
    assert any(r.action == SpeechRequest.ACTION_STOP and r.turn_id == first for r in probe.of(topics.SPEECH_REQUEST))
    (cut,) = progress(first, SpeechProgress.INTERRUPTED)
    assert 0 < cut.words_played < cut.words_total and reply.startswith(cut.spoken_text)
    activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_END, turn_id=barge))
    transcripts.publish(Transcript(turn_id=barge, text="hold on, who made you", is_final=True))
    assert probe.wait_for(lambda: progress(barge, SpeechProgress.DONE), 20)
    # The dialogue's own copy of that progress may come after the probe's: wait until it has taken it (a CI run
    # asked "say that again" first and got the interrupted reply repeated).
    done = progress(barge, SpeechProgress.DONE)[0].spoken_text
    assert probe.wait_for(lambda: probe.of(topics.DIALOGUE_STATE)[-1].robot_text == done, 5)

    # "Say that again" repeats what was played.
    again = now_ns() // 1_000_000
    turn(again, "say that again")
    assert probe.wait_for(lambda: says(again), 5)
    assert says(again)[0].text == f"I said: {done}"
