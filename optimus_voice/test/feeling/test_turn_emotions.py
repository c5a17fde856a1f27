"""The emotion of each turn without DDS: the voice cut out of the turn audio by the voice activity, estimated at
the pause and reused at the end, the words fused in, the mood moved by finals only."""

import threading

import numpy as np
import pytest
from optimus_voice.audio_io.sources import load_audio
from optimus_voice.contract.health import Health
from optimus_voice.feeling.acoustic import AcousticEmotion
from optimus_voice.feeling.text_emotion import TextEmotion
from optimus_voice.feeling.turn_audio import TurnAudioBuffer
from optimus_voice.feeling.turns import TurnEmotions


@pytest.fixture(scope="module")
def models():
    return TextEmotion(), AcousticEmotion()


def test_turn_audio_buffer_cuts_turns_by_sample_index_and_waits_for_late_audio():
    buffer = TurnAudioBuffer(seconds=1.0)
    for i in range(0, 32000, 320):  # 2 s of a ramp in 20 ms frames: only the last second is kept
        buffer.add(i, np.arange(i, i + 320, dtype=np.float32))
    assert buffer.end() == 32000
    np.testing.assert_array_equal(buffer.get(20000, 20500), np.arange(20000, 20500, dtype=np.float32))
    assert len(buffer.get(0, 1000)) == 0  # forgotten
    # An event names audio that has not arrived yet: wait_for blocks until it does, or times out.
    assert not buffer.wait_for(20000, 33000, timeout_s=0.05)
    threading.Timer(0.1, lambda: buffer.add(32000, np.zeros(1280, np.float32))).start()
    assert buffer.wait_for(20000, 33000, timeout_s=2.0)


def test_the_voice_is_estimated_at_the_pause_and_reused_for_the_final(models, data_dir):
    text, acoustic = models
    health = Health()
    engine = TurnEmotions(text, acoustic, health=health)
    speech = load_audio(data_dir / "cv_concourse.wav")
    start = 5_000  # the turn's first sample on the stream
    for i in range(0, len(speech), 320):
        engine.add_audio(start + i, speech[i:i + 320])
    end = start + len(speech)
    assert not engine.knows(7)
    assert not engine.voice_activity(7, start, None, ended=False)  # the start: nothing to estimate yet
    assert engine.knows(7)
    assert engine.voice_activity(7, start, end - 800, ended=False)  # a pause 50 ms before the end
    at_pause = engine.voice(7, end - 800)
    assert at_pause is not None and at_pause.inference_ms > 0
    assert engine.voice_activity(7, start, end, ended=True)
    assert engine.voice(7, end) is at_pause  # within REUSE_WITHIN of the end: not estimated again
    final = engine.estimate(7, "Shall I meet you in the concourse then?", final=True)
    assert final.modality == "fused" and final.final and final.estimate.label in final.estimate.scores
    assert health.snapshot().values["acoustic_inference_p50_ms"]
    assert "late_audio" not in health.counters


def test_audio_that_never_comes_is_counted_and_the_rest_is_heard(models, data_dir):
    text, acoustic = models
    health = Health()
    engine = TurnEmotions(text, acoustic, health=health)
    speech = load_audio(data_dir / "cv_concourse.wav")
    half = len(speech) // 2
    engine.add_audio(0, speech[:half])
    engine.voice_activity(9, 0, len(speech), ended=True)  # names audio of which only half ever arrives
    voice = engine.voice(9)
    assert voice is not None and health.counters["late_audio"] == 1
    # A turn of which no audio at all arrived is heard by its words alone.
    engine.voice_activity(10, 10**6, 10**6 + 16000, ended=True)
    result = engine.estimate(10, "I hate this, it is ridiculous!", final=True)
    assert result.modality == "text" and result.estimate.label == "angry"


def test_without_the_voice_the_words_decide_and_only_finals_move_the_mood(models):
    text, _ = models
    engine = TurnEmotions(text, None, mood_alpha=0.5)
    assert not engine.hears_voice
    engine.add_audio(0, np.zeros(320, np.float32))  # ignored: nothing listens to the voice
    assert not engine.voice_activity(1, 0, 320, ended=True) and not engine.knows(1)
    partial = engine.estimate(1, "I feel so sad and lonely", final=False)
    assert partial.modality == "text" and partial.estimate.label == "sad" and partial.mood_valence == 0.0
    final = engine.estimate(1, "I feel so sad and lonely", final=True)
    assert final.mood_valence < 0
    assert engine.estimate(2, "", final=True).estimate.label == "neutral"
