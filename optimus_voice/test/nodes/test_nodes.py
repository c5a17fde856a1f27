"""Nodes in-process with real rclpy: real messages in, real models, real messages out."""

import itertools
import time

import numpy as np
import pytest
from helpers import audio_frame, diagnostics_of, wait_matched
from optimus_voice.audio_io.sources import FileSource
from optimus_voice.contract import topics
from optimus_voice.contract.audio import to_s16le
from optimus_voice.contract.stamps import from_time, now_ns, to_time
from std_msgs.msg import Header


def test_asr_node_rejects_bad_frames_and_transcribes_real_speech(ros_graph, probe, data_dir):
    from optimus_voice.nodes.asr_node import AsrNode

    asr = ros_graph.add(AsrNode, partial_interval_ms=0.0)
    pub = probe.publisher(topics.AUDIO_IN)
    assert wait_matched(probe, topics.AUDIO_IN, asr)

    bad = [audio_frame(b"\x01\x02\x03", 0), audio_frame(b"\x00\x00" * 320, 0, rate=44100),
           audio_frame(b"", 0), audio_frame(b"\x00\x00" * 320, 0, encoding="MP3"),
           audio_frame(b"\x00\x00\xc0\x7f" * 320, 0, encoding="F32LE")]  # NaN floats
    for msg in bad:
        pub.publish(msg)
        time.sleep(0.02)
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "asr").get("rejected_frames", 0)) >= len(bad), 10)

    for chunk in FileSource(data_dir / "cv_what_did_he_look_like.wav", lead_silence_s=0.5).chunks():
        msg = audio_frame(to_s16le(chunk.samples), chunk.first_sample_index)
        msg.header.stamp = to_time(chunk.stamp_ns)
        pub.publish(msg)

    def final():
        return [m for m in probe.of(topics.TRANSCRIPT) if m.is_final]

    assert probe.wait_for(lambda: bool(final()), 30), "no final transcript"
    transcript = final()[0]
    assert "look like" in transcript.text.lower(), (transcript.text, diagnostics_of(probe, "asr"))
    activity = probe.of(topics.VOICE_ACTIVITY)
    # SPEECH_START, a SPEECH_ONGOING at each pause the final decode started at, SPEECH_END.
    events = [a.event for a in activity]
    assert events[0] == 1 and events[-1] == 3 and set(events[1:-1]) <= {2} and 2 in events, events
    pause = activity[-2]  # the user stayed silent: the last pause is where the turn ended
    assert pause.end_sample_index == activity[-1].end_sample_index
    assert {a.turn_id for a in activity} == {transcript.turn_id}
    # The turn's audio, for the emotion node: gapless, of this turn, from its start (preroll included) past its end.
    speech = probe.of(topics.USER_SPEECH)
    assert {f.turn_id for f in speech} == {transcript.turn_id}
    assert speech[0].first_sample_index == activity[0].start_sample_index
    assert all(b.first_sample_index == a.first_sample_index + len(a.data) // 2 for a, b in itertools.pairwise(speech))
    assert speech[-1].first_sample_index + len(speech[-1].data) // 2 >= activity[-1].end_sample_index
    # Stamps tell the story of the turn: speech start < speech end <= word times <= transcript stamp.
    start, end = from_time(transcript.speech_start), from_time(transcript.speech_end)
    assert start < end <= from_time(transcript.header.stamp)
    assert all(start <= from_time(w.start) <= from_time(w.end) for w in transcript.words)
    # Where the VAD heard the speech begin: after the preroll the turn's audio starts with (600 ms at most).
    onset = from_time(activity[0].onset)
    assert start < onset < end and onset - start <= 600_000_000 + 1_000_000, (start, onset, end)


@pytest.mark.parametrize("text", ["", "   ", "ünïcødé 🤖 " * 50, "x" * 10000])
def test_dialogue_and_emotion_survive_odd_text(ros_graph, probe, text):
    from optimus_voice.nodes.dialogue_node import DialogueNode
    from optimus_voice.nodes.emotion_node import EmotionNode

    from optimus_voice_msgs.msg import Transcript

    emotion = ros_graph.add(EmotionNode)
    dialogue = ros_graph.add(DialogueNode)
    pub = probe.publisher(topics.TRANSCRIPT)
    assert wait_matched(probe, topics.TRANSCRIPT, emotion, dialogue)
    pub.publish(Transcript(turn_id=now_ns() // 1_000_000, text=text, is_final=True))
    assert probe.wait_for(lambda: bool(probe.of(topics.EMOTION)), 10)
    if text.strip():
        assert probe.wait_for(lambda: bool(probe.of(topics.SPEECH_REQUEST)), 10)
        request = probe.of(topics.SPEECH_REQUEST)[0]
        assert request.text and len(request.text) <= 300
    assert diagnostics_of(probe, "dialogue").get("callback_errors") is None


def test_asr_node_transcribes_real_speech_with_moonshine(ros_graph, probe, data_dir):
    from optimus_voice.nodes.asr_node import AsrNode

    asr = ros_graph.add(AsrNode, recognizer="moonshine", partial_interval_ms=0.0)
    pub = probe.publisher(topics.AUDIO_IN)
    assert wait_matched(probe, topics.AUDIO_IN, asr)
    for chunk in FileSource(data_dir / "cv_what_did_he_look_like.wav", lead_silence_s=0.5).chunks():
        msg = audio_frame(to_s16le(chunk.samples), chunk.first_sample_index)
        msg.header.stamp = to_time(chunk.stamp_ns)
        pub.publish(msg)
    assert probe.wait_for(lambda: any(m.is_final for m in probe.of(topics.TRANSCRIPT)), 30), "no final transcript"
    transcript = next(m for m in probe.of(topics.TRANSCRIPT) if m.is_final)
    assert "look like" in transcript.text.lower(), (transcript.text, diagnostics_of(probe, "asr"))
    # Estimated word times still lie inside the turn, in order.
    start, end = from_time(transcript.speech_start), from_time(transcript.header.stamp)
    assert transcript.words and all(start <= from_time(w.start) <= from_time(w.end) <= end for w in transcript.words)
    assert probe.wait_for(lambda: diagnostics_of(probe, "asr").get("recognizer") == "moonshine", 10)


def test_stale_reply_is_never_spoken(ros_graph, probe):
    from optimus_voice.nodes.dialogue_node import DialogueNode

    from optimus_voice_msgs.msg import Transcript, VoiceActivity

    dialogue = ros_graph.add(DialogueNode, emotion_wait_ms=500.0)
    transcripts = probe.publisher(topics.TRANSCRIPT)
    activity = probe.publisher(topics.VOICE_ACTIVITY)
    assert wait_matched(probe, topics.TRANSCRIPT, dialogue) and wait_matched(probe, topics.VOICE_ACTIVITY, dialogue)
    old = now_ns() // 1_000_000
    transcripts.publish(Transcript(turn_id=old, text="hello there", is_final=True))
    # The user starts a new turn before the reply to the old one was decided (it waits for an emotion).
    activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_START, turn_id=old + 1))
    transcripts.publish(Transcript(turn_id=old + 1, text="what time is it", is_final=True))
    assert probe.wait_for(lambda: bool(probe.of(topics.SPEECH_REQUEST)), 10)
    time.sleep(0.7)  # past the emotion wait of the old turn: nothing more may come
    assert [r.turn_id for r in probe.of(topics.SPEECH_REQUEST)] == [old + 1]


def test_a_turn_that_goes_on_before_the_reply_was_heard_is_answered_whole(ros_graph, probe):
    """The dialogue node reads the VAD's onset and end stamps and the reply's start from /speech/progress: the user
    went on 100 ms after the robot began its reply to "what is", so "my name" is answered as "what is my name"."""
    from optimus_voice.nodes.dialogue_node import DialogueNode

    from optimus_voice_msgs.msg import SpeechProgress, Transcript, VoiceActivity

    dialogue = ros_graph.add(DialogueNode, emotion_wait_ms=0.0)
    transcripts = probe.publisher(topics.TRANSCRIPT)
    activity = probe.publisher(topics.VOICE_ACTIVITY)
    progress = probe.publisher(topics.SPEECH_PROGRESS)
    assert wait_matched(probe, topics.TRANSCRIPT, dialogue) and wait_matched(probe, topics.VOICE_ACTIVITY, dialogue)
    assert wait_matched(probe, topics.SPEECH_PROGRESS, dialogue)
    t0 = now_ns()
    first, rest = t0 // 1_000_000, t0 // 1_000_000 + 1

    def turn(turn_id, text, onset_ns, end_ns):
        activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_START, turn_id=turn_id, onset=to_time(onset_ns)))
        activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_END, turn_id=turn_id, speech_end=to_time(end_ns)))
        transcripts.publish(Transcript(turn_id=turn_id, text=text, is_final=True))

    turn(first, "What is", t0, t0 + 600_000_000)
    assert probe.wait_for(lambda: any(r.turn_id == first for r in probe.of(topics.SPEECH_REQUEST)), 10)
    progress.publish(SpeechProgress(header=Header(stamp=to_time(t0 + 900_000_000)), turn_id=first,
                                    state=SpeechProgress.STARTED))
    time.sleep(0.3)  # the progress is in before the next turn
    turn(rest, "my name?", t0 + 1_000_000_000, t0 + 1_500_000_000)
    assert probe.wait_for(lambda: any(s.user_text == "What is my name?" for s in probe.of(topics.DIALOGUE_STATE)), 10)
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "dialogue").get("turns_continued", 0)) == 1, 5)


def test_a_forged_future_turn_id_cannot_silence_the_robot(ros_graph, probe):
    from optimus_voice.nodes.dialogue_node import DialogueNode

    from optimus_voice_msgs.msg import Transcript

    dialogue = ros_graph.add(DialogueNode, emotion_wait_ms=0.0)
    transcripts = probe.publisher(topics.TRANSCRIPT)
    assert wait_matched(probe, topics.TRANSCRIPT, dialogue)
    now = now_ns() // 1_000_000
    transcripts.publish(Transcript(turn_id=now + 55_000, text="hello there", is_final=True))  # forged, 55 s ahead
    transcripts.publish(Transcript(turn_id=now + 1, text="what time is it", is_final=True))
    assert probe.wait_for(lambda: any(r.turn_id == now + 1 for r in probe.of(topics.SPEECH_REQUEST)), 10)
    assert not any(r.turn_id == now + 55_000 for r in probe.of(topics.SPEECH_REQUEST))
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "dialogue").get("implausible_turn_ids", 0)) == 1, 5)


def test_audio_out_rejects_bad_frames_plays_speech_and_flushes_on_stop(ros_graph, probe, data_dir, tmp_path):
    """The speaker node: bad frames counted, real speech written to the WAV with playback reports, stop flushes."""
    import soundfile as sf
    from optimus_voice.audio_io.sources import load_audio
    from optimus_voice.nodes.audio_out_node import AudioOutNode

    from optimus_voice_msgs.msg import PlaybackStatus, SpeechRequest

    wav = tmp_path / "out.wav"
    out = ros_graph.add(AudioOutNode, output="wav", wav_path=str(wav), sample_rate=16000)
    pub = probe.publisher(topics.AUDIO_OUT)
    stop = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.AUDIO_OUT, out) and wait_matched(probe, topics.SPEECH_REQUEST, out)

    bad = [audio_frame(b"\x01\x02\x03", 0), audio_frame(b"\x00\x00" * 320, 0, rate=12345), audio_frame(b"", 0),
           audio_frame(b"\x00\x00" * 320, 0, encoding="MP3"), audio_frame(b"\x00\x00\x80\x7f" * 320, 0, "F32LE"),
           audio_frame(b"\x00\x00" * 16000 * 3, 0)]  # inf floats; a 3 s frame
    for msg in bad:
        pub.publish(msg)
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "audio_out").get("rejected_frames", 0)) == len(bad), 10)

    speech = load_audio(data_dir / "cv_concourse.wav")
    frame = 640  # 40 ms, as the TTS node sends
    for index in range(0, len(speech), frame):
        msg = audio_frame(to_s16le(speech[index:index + frame]), index)
        msg.turn_id = 1
        pub.publish(msg)

    def states(turn):
        return [s for s in probe.of(topics.PLAYBACK) if s.turn_id == turn]

    assert probe.wait_for(lambda: any(s.state == PlaybackStatus.DRAINED for s in states(1)), 15)
    assert states(1)[-1].samples_played == len(speech)
    played = [s.samples_played for s in states(1)]
    assert played == sorted(played) and len(played) > 2, "progress is reported while playing"
    # What was played comes back on /audio/out/played, whole, stamped with when it played (the echo canceller's
    # reference): one piece after the other, never overlapping, apart only where the speaker ran out of audio.
    assert probe.wait_for(lambda: sum(len(m.data) // 2 for m in probe.of(topics.AUDIO_PLAYED)) == len(speech), 5)
    echoed = [m for m in probe.of(topics.AUDIO_PLAYED) if m.turn_id == 1]
    assert b"".join(bytes(m.data) for m in echoed) == to_s16le(speech)
    starts = [from_time(m.header.stamp) for m in echoed]
    gaps = [b - a - len(m.data) // 2 * 62_500 for a, b, m in zip(starts, starts[1:], echoed, strict=False)]
    assert all(0 <= g < 100_000_000 for g in gaps), gaps

    # A second turn is stopped after 0.5 s: it is flushed and the WAV holds only what was played.
    for index in range(0, len(speech), frame):
        msg = audio_frame(to_s16le(speech[index:index + frame]), index)
        msg.turn_id = 2
        pub.publish(msg)
    assert probe.wait_for(lambda: any(s.samples_played >= 8000 for s in states(2)), 10)
    stop.publish(SpeechRequest(action=SpeechRequest.ACTION_STOP, turn_id=2))
    assert probe.wait_for(lambda: any(s.state == PlaybackStatus.FLUSHED for s in states(2)), 5)
    played_2 = max(s.samples_played for s in states(2))
    assert played_2 < len(speech)
    out.cleanup_stage()
    written = sf.read(str(wav), dtype="int16")[0]
    # Everything played is in the WAV: all of turn 1, the played part of turn 2 (plus at most the frame in hand).
    assert len(speech) + played_2 <= len(written) <= len(speech) + played_2 + frame
    np.testing.assert_array_equal(written[:len(speech)], np.frombuffer(to_s16le(speech), dtype="<i2"))


def test_tts_node_publishes_speech_with_visemes_aligned_to_its_samples(ros_graph, probe):
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import SpeechProgress, SpeechRequest

    tts = ros_graph.add(TtsNode, playback_feedback=False)
    requests = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.SPEECH_REQUEST, tts)
    assert probe.wait_for(lambda: tts.visemes_pub.get_subscription_count() >= 1, 10)
    text = "Hello there. My name is Optimus, and I can help you."
    requests.publish(SpeechRequest(turn_id=5, action=SpeechRequest.ACTION_SAY, text=text, style="happy"))
    done = probe.wait_for(lambda: any(p.state == SpeechProgress.DONE for p in probe.of(topics.SPEECH_PROGRESS)), 30)
    assert done, [p.state for p in probe.of(topics.SPEECH_PROGRESS)]
    frames = probe.of(topics.AUDIO_OUT)
    assert {f.turn_id for f in frames} == {5}
    first, end = frames[0].first_sample_index, frames[-1].first_sample_index + len(frames[-1].data) // 2
    visemes = [v for seq in probe.of(topics.SPEECH_VISEMES) for v in seq.visemes]
    assert visemes and all(seq.turn_id == 5 for seq in probe.of(topics.SPEECH_VISEMES))
    # The visemes tile the published audio: same sample scale, no gap, no overlap, nothing past the end.
    rate = probe.of(topics.SPEECH_VISEMES)[0].sample_rate
    assert visemes[0].sample_index == first
    for a, b in itertools.pairwise(visemes):
        assert b.sample_index == a.sample_index + round(a.duration * rate)
    assert visemes[-1].sample_index + round(visemes[-1].duration * rate) == end
    assert probe.of(topics.SPEECH_PROGRESS)[-1].spoken_text == text



def test_tts_node_synthesizes_the_fixed_replies_ahead_and_the_first_clarification_is_ready(ros_graph, probe):
    from optimus_voice.deciding.policy import fixed_replies
    from optimus_voice.nodes.params import default_intents_path
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import SpeechProgress, SpeechRequest

    tts = ros_graph.add(TtsNode, playback_feedback=False)
    requests = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.SPEECH_REQUEST, tts)
    every = len(fixed_replies(default_intents_path()))
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "tts").get("replies_warmed", 0)) == every, 30)
    requests.publish(SpeechRequest(turn_id=7, action=SpeechRequest.ACTION_SAY,
                                   text="Sorry, I didn't get that. Could you say it another way?"))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.DONE for p in probe.of(topics.SPEECH_PROGRESS)), 30)
    # Its first piece came from the cache, its second was synthesized while the first played.
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "tts").get("pieces_from_cache", 0)) == 1, 5)


def test_tts_node_with_an_intents_file_it_cannot_read_says_so_and_speaks(ros_graph, probe, tmp_path):
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import SpeechProgress, SpeechRequest

    broken = tmp_path / "intents.yaml"
    broken.write_text("intents: [not, a, mapping\n")
    tts = ros_graph.add(TtsNode, playback_feedback=False, intents_path=str(broken))
    requests = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.SPEECH_REQUEST, tts)
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "tts").get("warm_replies_failed", 0)) == 1, 10)
    requests.publish(SpeechRequest(turn_id=3, action=SpeechRequest.ACTION_SAY, text="Hello there."))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.DONE for p in probe.of(topics.SPEECH_PROGRESS)), 30)


def test_tts_node_plays_the_learning_sound_when_the_echo_canceller_asks_before_any_reply(ros_graph, probe):
    """/audio/in/echo_learning True: the learning sound goes out once as turn 0 (no words, no progress); not with
    learning_sound off, and not once a reply has begun (the reply teaches the canceller)."""
    from optimus_voice.audio_io.learning_sound import learning_sound
    from optimus_voice.contract.audio import decode_pcm
    from optimus_voice.nodes.tts_node import TtsNode
    from rclpy.parameter import Parameter
    from std_msgs.msg import Bool

    from optimus_voice_msgs.msg import SpeechProgress, SpeechRequest

    tts = ros_graph.add(TtsNode, playback_feedback=False, learning_sound=False)
    learning = probe.publisher(topics.ECHO_LEARNING)
    requests = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.ECHO_LEARNING, tts) and wait_matched(probe, topics.SPEECH_REQUEST, tts)
    assert probe.wait_for(lambda: tts.audio_pub.get_subscription_count() >= 1, 10)

    def sounds(kind: str = "learning_sounds") -> int:
        return int(diagnostics_of(probe, "tts").get(kind, 0))

    learning.publish(Bool(data=True))
    time.sleep(1.0)
    assert not probe.of(topics.AUDIO_OUT)  # learning_sound off
    assert tts.set_parameters([Parameter("learning_sound", value=True)])[0].successful
    # A latched topic keeps one message: each is given time to arrive before the next.
    for asked in (False, True, True):  # the same request twice: one sound
        learning.publish(Bool(data=asked))
        time.sleep(0.5)
    assert probe.wait_for(lambda: sounds() == 1, 10)
    time.sleep(0.5)
    frames = probe.of(topics.AUDIO_OUT)
    assert {f.turn_id for f in frames} == {0} and not probe.of(topics.SPEECH_PROGRESS)
    rate = frames[0].sample_rate
    played = np.concatenate([decode_pcm(f.encoding, rate, 1, bytes(f.data), expected_rate=rate) for f in frames])
    expected = learning_sound(rate)
    assert len(played) == len(expected) and np.abs(played - expected).max() < 1e-3
    assert sounds() == 1

    requests.publish(SpeechRequest(turn_id=5, action=SpeechRequest.ACTION_SAY, text="Hello there."))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.DONE for p in probe.of(topics.SPEECH_PROGRESS)), 30)
    for asked in (False, True):  # a canceller that starts over (a restart) after the robot has spoken
        learning.publish(Bool(data=asked))
        time.sleep(0.5)
    assert probe.wait_for(lambda: sounds("learning_sounds_skipped") == 1, 10)
    assert {f.turn_id for f in probe.of(topics.AUDIO_OUT)} == {0, 5}


def test_a_latched_request_from_before_activation_is_acted_on_once_active(ros_graph, probe):
    """The lifecycle manager activates a node once it is configured, and the TTS node, which loads its voice, can
    come after the capture node has asked for the learning sound (fresh-clone CI, 2026-12-07): the latched request
    reached it while inactive and must still be acted on when it activates."""
    from optimus_voice.nodes.tts_node import TtsNode
    from std_msgs.msg import Bool

    learning = probe.publisher(topics.ECHO_LEARNING)
    learning.publish(Bool(data=True))
    tts = ros_graph.add(TtsNode, activate=False, playback_feedback=False)
    tts.trigger_configure()
    assert probe.wait_for(lambda: tts.matched_publishers(topics.ECHO_LEARNING) >= 1, 10)
    time.sleep(1.0)  # delivered now, while inactive
    assert not probe.of(topics.AUDIO_OUT)
    tts.trigger_activate()
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "tts").get("learning_sounds", 0)) == 1, 10)
    assert probe.wait_for(lambda: probe.of(topics.AUDIO_OUT), 5)


def test_tts_node_says_a_request_of_no_turn_after_what_it_is_saying(ros_graph, probe):
    """`ros2 topic pub /speech/request ... "{text: ...}"` from the robot's own software carries turn 0: it was dropped
    as stale once any user turn had been answered. It is said after the reply in progress, as more of that turn."""
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import SpeechProgress, SpeechRequest

    tts = ros_graph.add(TtsNode, playback_feedback=False)
    requests = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.SPEECH_REQUEST, tts)
    assert probe.wait_for(lambda: tts.audio_pub.get_subscription_count() >= 1, 10)
    requests.publish(SpeechRequest(turn_id=9, action=SpeechRequest.ACTION_SAY, text="It is ten past four."))
    requests.publish(SpeechRequest(text="My battery is low."))  # all defaults but the text: turn 0, SAY

    def done() -> list[str]:
        return [p.spoken_text for p in probe.of(topics.SPEECH_PROGRESS) if p.state == SpeechProgress.DONE]

    assert probe.wait_for(lambda: done(), 30), [(p.turn_id, p.state) for p in probe.of(topics.SPEECH_PROGRESS)]
    time.sleep(1.0)
    assert done() == ["It is ten past four. My battery is low."]  # in order, neither cut off
    assert {p.turn_id for p in probe.of(topics.SPEECH_PROGRESS)} == {9}
    assert not [p for p in probe.of(topics.SPEECH_PROGRESS) if p.state == SpeechProgress.INTERRUPTED]
    assert probe.wait_for(lambda: diagnostics_of(probe, "tts").get("announcements") == "1", 5)
    assert "stale_requests_dropped" not in diagnostics_of(probe, "tts")


def test_tts_node_stop_also_drops_the_sentences_still_waiting(ros_graph, probe):
    """A language model's reply comes sentence by sentence, each a SAY of the same turn, queued while the first plays.
    A barge-in's STOP interrupted the first, and then the next one was said over the user."""
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import SpeechProgress, SpeechRequest

    tts = ros_graph.add(TtsNode, playback_feedback=False)
    requests = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.SPEECH_REQUEST, tts)
    assert probe.wait_for(lambda: tts.audio_pub.get_subscription_count() >= 1, 10)
    first = "It is ten past four in the afternoon, and the sun is still high."
    requests.publish(SpeechRequest(turn_id=9, action=SpeechRequest.ACTION_SAY, text=first))
    requests.publish(SpeechRequest(turn_id=9, action=SpeechRequest.ACTION_SAY, text="You will never hear this."))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.STARTED for p in probe.of(topics.SPEECH_PROGRESS)), 20)
    requests.publish(SpeechRequest(turn_id=9, action=SpeechRequest.ACTION_STOP))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.INTERRUPTED
                                      for p in probe.of(topics.SPEECH_PROGRESS)), 10)
    time.sleep(3.0)  # the second sentence, had it been said, would have begun by now
    assert not [p for p in probe.of(topics.SPEECH_PROGRESS) if p.state == SpeechProgress.DONE]
    assert not [p for p in probe.of(topics.SPEECH_PROGRESS) if "never" in p.spoken_text]
    # The next request is said: a stop drops what was waiting, not what comes after it.
    requests.publish(SpeechRequest(turn_id=10, action=SpeechRequest.ACTION_SAY, text="Yes?"))
    assert probe.wait_for(lambda: any(p.state == SpeechProgress.DONE and p.turn_id == 10
                                      for p in probe.of(topics.SPEECH_PROGRESS)), 20)


def test_tts_node_holds_a_prepared_reply_until_it_is_asked_for(ros_graph, probe):
    """ACTION_PREPARE renders a reply and plays nothing; the SAY that follows starts from it. A prepared reply of a
    turn the user went on with is dropped unplayed."""
    from optimus_voice.nodes.tts_node import TtsNode

    from optimus_voice_msgs.msg import SpeechProgress, SpeechRequest

    tts = ros_graph.add(TtsNode, playback_feedback=False)
    requests = probe.publisher(topics.SPEECH_REQUEST)
    assert wait_matched(probe, topics.SPEECH_REQUEST, tts)
    assert probe.wait_for(lambda: tts.audio_pub.get_subscription_count() >= 1, 10)
    requests.publish(SpeechRequest(turn_id=7, action=SpeechRequest.ACTION_PREPARE, text="About what?"))
    text = "It is ten past four."
    requests.publish(SpeechRequest(turn_id=8, action=SpeechRequest.ACTION_PREPARE, text=text, style="calm"))
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "tts").get("prepared_dropped", 0)) == 1, 20)
    time.sleep(1.0)
    assert not probe.of(topics.AUDIO_OUT) and not probe.of(topics.SPEECH_PROGRESS)  # nothing played
    requests.publish(SpeechRequest(turn_id=8, action=SpeechRequest.ACTION_SAY, text=text, style="calm"))
    done = probe.wait_for(lambda: any(p.state == SpeechProgress.DONE for p in probe.of(topics.SPEECH_PROGRESS)), 30)
    assert done and probe.of(topics.SPEECH_PROGRESS)[-1].spoken_text == text
    assert {f.turn_id for f in probe.of(topics.AUDIO_OUT)} == {8}
    assert probe.wait_for(lambda: int(diagnostics_of(probe, "tts").get("prepared_used", 0)) == 1, 10)


def test_emotion_node_fuses_the_voice_of_a_turn_with_its_words(ros_graph, probe, data_dir):
    from optimus_voice.audio_io.sources import FileSource
    from optimus_voice.nodes.emotion_node import EmotionNode

    from optimus_voice_msgs.msg import Emotion, Transcript, VoiceActivity

    node = ros_graph.add(EmotionNode)
    audio, activity, transcripts = (probe.publisher(t) for t in (topics.USER_SPEECH, topics.VOICE_ACTIVITY,
                                                                   topics.TRANSCRIPT))
    for topic in (topics.USER_SPEECH, topics.VOICE_ACTIVITY, topics.TRANSCRIPT):
        assert wait_matched(probe, topic, node)
    chunks = list(FileSource(data_dir / "cv_concourse.wav", realtime=False).chunks())
    for chunk in chunks:
        msg = audio_frame(to_s16le(chunk.samples), chunk.first_sample_index)
        msg.turn_id = 42
        audio.publish(msg)
        time.sleep(0.002)
    end = chunks[-1].first_sample_index + len(chunks[-1].samples)
    activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_START, turn_id=42, start_sample_index=0))
    activity.publish(VoiceActivity(event=VoiceActivity.SPEECH_END, turn_id=42, start_sample_index=0,
                                   end_sample_index=end))
    transcripts.publish(Transcript(turn_id=42, text="Shall I meet you in the concourse then?", is_final=True))
    assert probe.wait_for(lambda: any(e.is_final for e in probe.of(topics.EMOTION)), 20)
    final = next(e for e in probe.of(topics.EMOTION) if e.is_final)
    assert final.turn_id == 42 and final.modality == Emotion.MODALITY_FUSED
    assert final.label in final.labels and abs(sum(final.scores) - 1) < 1e-3
