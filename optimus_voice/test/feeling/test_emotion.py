"""The user's emotion from words and voice, their fusion and the mood."""

import pytest
from optimus_voice.audio_io.sources import load_audio


def test_text_emotion_and_mood():
    from optimus_voice.feeling.emotions import LABELS, Mood
    from optimus_voice.feeling.text_emotion import TextEmotion

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


def test_acoustic_emotion_scores_real_speech_and_fusion_weighs_emotional_words(data_dir):
    from optimus_voice.feeling.acoustic import AcousticEmotion
    from optimus_voice.feeling.emotions import LABELS
    from optimus_voice.feeling.fusion import fuse
    from optimus_voice.feeling.text_emotion import TextEmotion

    model = AcousticEmotion()
    voice = model.estimate(load_audio(data_dir / "cv_concourse.wav"))
    assert set(voice.scores) == set(LABELS) and abs(sum(voice.scores.values()) - 1) < 1e-4
    assert -1 <= voice.valence <= 1 and -1 <= voice.arousal <= 1
    text = TextEmotion()
    # A plain sentence says nothing about how it was said: the voice decides.
    plain = text.estimate("Shall I meet you in the concourse then?")
    assert text.evidence(plain) < 0.1
    assert fuse(voice, plain, 0.8 * text.evidence(plain)).label == voice.label
    # Strong words move the estimate towards what they say.
    furious = text.estimate("I hate this, it is ridiculous and I am furious!")
    assert text.evidence(furious) > 0.5
    assert fuse(voice, furious, 0.8 * text.evidence(furious)).scores["angry"] > voice.scores["angry"]


def test_missing_emotion_model_is_a_clear_error(tmp_path):
    from optimus_voice.common.models import ModelMissingError
    from optimus_voice.feeling.acoustic import AcousticEmotion

    with pytest.raises(ModelMissingError, match="does not exist"):
        AcousticEmotion(str(tmp_path / "nope.onnx"))


def test_the_valence_shown_never_contradicts_the_label(data_dir):
    """The demo once showed "disgust (valence +0.36)": VADER liked the word "like" in "What did he look like?"."""
    from optimus_voice.feeling.acoustic import AcousticEmotion
    from optimus_voice.feeling.emotions import CIRCUMPLEX
    from optimus_voice.feeling.fusion import fuse
    from optimus_voice.feeling.text_emotion import TextEmotion

    voice = AcousticEmotion().estimate(load_audio(data_dir / "cv_what_did_he_look_like.wav"))
    text = TextEmotion()
    for said in ["What did he look like?", "I love this, it is wonderful", "This is disgusting and awful",
                 "I like it", "Nobody cares about me"]:
        for est in (text.estimate(said), fuse(voice, text.estimate(said), 0.8 * text.evidence(text.estimate(said)))):
            label_side = CIRCUMPLEX[est.label][0]
            assert est.valence * label_side >= 0 or abs(est.valence) < 0.2, (said, est.label, est.valence)
