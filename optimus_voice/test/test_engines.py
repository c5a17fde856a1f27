"""Each stage's engine on real models and real speech (no ROS)."""

import re

import numpy as np
import pytest
from optimus_voice.engines.audio_source import FileSource, SourceError, load_audio

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="module")
def asr_parts():
    from optimus_voice.engines.asr import WhisperRecognizer
    from optimus_voice.engines.vad import SileroVad

    return SileroVad, WhisperRecognizer()


def run_stream(asr, path, **kw):
    events = []
    for chunk in FileSource(path, realtime=False, **kw).chunks():
        events += asr.push(chunk)
    return events + asr.flush()


def test_streaming_asr_on_real_speech(asr_parts, data_dir):
    from optimus_voice.engines.asr import StreamingAsr, TranscriptEvent, VadEvent

    vad_cls, recognizer = asr_parts
    asr = StreamingAsr(vad_cls(), recognizer)
    events = run_stream(asr, data_dir / "cv_concourse.wav", lead_silence_s=0.5)
    starts = [e for e in events if isinstance(e, VadEvent) and e.kind == "start"]
    ends = [e for e in events if isinstance(e, VadEvent) and e.kind == "end"]
    finals = [e for e in events if isinstance(e, TranscriptEvent) and e.is_final]
    assert len(starts) == len(ends) == len(finals) == 1
    final = finals[0]
    assert final.turn_id == starts[0].turn_id
    assert {"meet", "you", "concourse"} <= words(final.hypothesis.text)
    assert final.hypothesis.words and all(0 <= w.confidence <= 1 for w in final.hypothesis.words)
    # Speech starts after the half second of lead silence (minus the preroll), and ends before the clip does.
    assert 0.1 * 16000 <= starts[0].start_index <= 0.9 * 16000
    assert ends[0].end_index <= (0.5 + 2.6) * 16000


def test_partials_have_a_stable_prefix(asr_parts, data_dir):
    from optimus_voice.engines.asr import AsrConfig, StreamingAsr, TranscriptEvent

    vad_cls, recognizer = asr_parts
    asr = StreamingAsr(vad_cls(), recognizer, AsrConfig(partial_interval_ms=500.0, end_silence_ms=900.0))
    events = run_stream(asr, data_dir / "jfk.wav", lead_silence_s=0.3)
    partials = [e for e in events if isinstance(e, TranscriptEvent) and not e.is_final]
    assert partials
    for e in partials:
        assert 0 <= e.stable_words <= len(e.hypothesis.text.split())


def test_silence_and_noise_produce_no_turn(asr_parts):
    from optimus_voice.engines.asr import StreamingAsr
    from optimus_voice.engines.audio_source import AudioChunk

    vad_cls, recognizer = asr_parts
    asr = StreamingAsr(vad_cls(), recognizer)
    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(16000 * 2, np.float32), 0.05 * rng.standard_normal(16000 * 3).astype(np.float32)])
    events = []
    for i in range(0, len(audio), 320):
        events += asr.push(AudioChunk(audio[i:i + 320], i, 0))
    assert events + asr.flush() == []


def test_missing_model_is_a_clear_error(tmp_path):
    from optimus_voice.engines.models import ModelMissingError
    from optimus_voice.engines.vad import SileroVad

    with pytest.raises(ModelMissingError, match="does not exist"):
        SileroVad(str(tmp_path / "nope.onnx"))


def test_unreadable_audio_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    with pytest.raises(SourceError, match="cannot read audio file"):
        load_audio(bad)


def test_tts_speaks_what_asr_hears(asr_parts):
    import soxr
    from optimus_voice.engines.tts import Synthesizer, split_text

    synth = Synthesizer()
    assert synth.backend == "piper"
    text = "Hello! I can tell you the time, and speak a little louder if you like."
    # The 14-word sentence is split at its comma so the first audio comes sooner.
    assert split_text(text) == ["Hello!", "I can tell you the time,", "and speak a little louder if you like."]
    chunks = list(synth.synthesize(text, "neutral"))
    audio = np.concatenate([c.samples for c in chunks])
    assert len(audio) / synth.sample_rate > 2.0
    heard = asr_parts[1].transcribe(soxr.resample(audio, synth.sample_rate, 16000).astype(np.float32))
    # Piper samples its prosody and tiny.en mishears the odd word: most of the reply must come through.
    reference = words(text)
    assert len(reference & words(heard.text)) >= 0.75 * len(reference), heard.text


def test_styles_change_the_voice():
    from optimus_voice.engines.tts import Synthesizer

    synth = Synthesizer()
    text = "It is nice to hear from you."
    # Piper's durations are sampled (noise_w): compare means over a few runs.
    length = {s: np.mean([sum(len(c.samples) for c in synth.synthesize(text, s)) for _ in range(3)])
              for s in ("excited", "sad")}
    assert length["sad"] > length["excited"] * 1.05


def test_text_emotion_and_mood():
    from optimus_voice.engines.emotion import LABELS, Mood, TextEmotion

    model = TextEmotion()
    happy = model.estimate("I am so happy, this is wonderful!")
    sad = model.estimate("I feel sad and lonely today")
    angry = model.estimate("I am furious, I hate this stupid thing")
    assert (happy.label, sad.label, angry.label) == ("happy", "sad", "angry")
    assert happy.valence > 0.5 > -0.5 > sad.valence
    assert abs(sum(happy.scores.values()) - 1.0) < 1e-5 and set(happy.scores) == set(LABELS)
    mood = Mood(alpha=0.5)
    mood.update(sad.valence, sad.arousal)
    v, _ = mood.update(sad.valence, sad.arousal)
    assert sad.valence < v < 0


def test_policy_intents_and_empathy(tmp_path):
    from pathlib import Path

    from optimus_voice.engines.dialogue import Policy

    policy = Policy(Path(__file__).parents[1] / "config" / "intents.yaml")
    assert policy.respond("hello there robot").intent == "greeting"
    assert policy.respond("what time is it now").intent == "time"
    assert policy.respond("please speak louder").action == "volume_up"
    unknown = policy.respond("the quantum chromodynamics of jellybeans", emotion="sad")
    assert unknown.intent == "unknown"
    assert unknown.expression == "concerned" and unknown.style == "calm"
    bad = tmp_path / "bad.yaml"
    bad.write_text("intents:\n  x:\n    examples: [a]\n    replies: [b]\n    action: rm_rf\nunknown:\n  replies: [c]\n")
    with pytest.raises(ValueError, match="whitelist"):
        Policy(bad)


def test_turn_taking_drops_stale_turns():
    from optimus_voice.engines.dialogue import State, TurnTaking

    tt = TurnTaking()
    tt.user_started(10)
    assert tt.user_finished(10)
    tt.speech_started(10)
    assert tt.state == State.SPEAKING
    assert tt.user_started(11)          # barge-in
    assert not tt.user_finished(10)     # a late final for the old turn is stale
    assert tt.is_stale(10)


def test_face_follows_dialogue_and_blinks():
    from optimus_voice.engines.dialogue import State
    from optimus_voice.engines.face import FaceMixer

    face = FaceMixer(smoothing_s=0.1, blink_every_s=1.0)
    face.state = State.LISTENING
    face.user_emotion = "sad"
    frames = [face.step(t / 30) for t in range(90)]
    assert frames[-1].expression == "concerned"
    assert frames[-1].valence < -0.2
    assert min(f.eyelid_openness for f in frames) < 0.5  # it blinked
    face.state = State.SPEAKING
    face.reply_expression = "happy"
    assert face.step(3.1).expression == "happy"
