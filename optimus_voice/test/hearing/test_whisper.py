"""Whisper with short windows: loops cut, and redone with a longer window."""

import numpy as np
from optimus_voice.audio_io.sources import load_audio


def test_whisper_loops_are_cut_to_their_first_pass():
    from optimus_voice.hearing.whisper import trim_repetition

    sentence = [10, 11, 12, 13, 14]
    assert trim_repetition(sentence + sentence + sentence[:3]) == sentence   # looped, cut off mid-pass
    assert trim_repetition([1, 2, *sentence, *sentence]) == [1, 2, *sentence]
    assert trim_repetition([*sentence, 10, 11]) == [*sentence, 10, 11]         # two tokens again is speech
    # A second pass that breaks off before the first one's end (a loop longer than what repeats of it).
    life = [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]  # "It was the first great sorrow of his life."
    assert trim_repetition(life + life[:8]) == life


def test_a_looping_decode_is_redone_with_a_longer_window_not_straight_the_30s_one(asr_parts, data_dir):
    # JFK's "ask" after his pause, alone with half a second of silence, loops in its own 2.5 s window ("ask ask
    # ask"): the 15 s window reads it once, and the 30 s one (three times slower) is not needed.
    _, recognizer = asr_parts
    audio = load_audio(data_dir / "jfk.wav")
    clip = np.concatenate([audio[2 * 16000:4 * 16000], np.zeros(8000, np.float32)])
    before = recognizer.fallbacks.copy()
    hyp = recognizer.transcribe(clip)
    assert recognizer.fallbacks - before == {15.0: 1}
    assert [w.text.strip(".,!?").lower() for w in hyp.words] == ["ask"]


def test_a_domain_prompt_guides_the_decode_without_showing_up_in_it(data_dir):
    from optimus_voice.hearing.whisper import WhisperRecognizer

    audio = load_audio(data_dir / "cv_concourse.wav")
    plain = WhisperRecognizer().transcribe(audio)
    prompted = WhisperRecognizer(initial_prompt="Optimus, stop. Louder, please.").transcribe(audio)
    assert "optimus" not in prompted.text.lower() and "louder" not in prompted.text.lower()
    assert [w.text for w in prompted.words] == [w.text for w in plain.words]  # this clip reads the same either way
    assert 0.0 <= prompted.words[0].start_s < prompted.words[-1].end_s <= len(audio) / 16000 + 0.05


def test_speech_after_a_pause_is_read_on_from_what_was_said_before_it(asr_parts, data_dir):
    # JFK after his pause, read as what follows "And so my fellow Americans": the decoder hears both audios, is made
    # to begin with that text, and only what follows comes back, timed from the second audio's start.
    _, recognizer = asr_parts
    audio = load_audio(data_dir / "jfk.wav")
    before, after = audio[:2 * 16000], np.concatenate([audio[2 * 16000:], np.zeros(8000, np.float32)])
    hyp = recognizer.transcribe_after(before, "And so my fellow Americans,", after)
    said = [w.text.strip(".,!?").lower() for w in hyp.words]
    assert hyp.continues and said[:2] == ["ask", "not"] and said[-2:] == ["your", "country"], hyp.text
    assert not {"fellow", "americans"} & set(said)
    assert 0.0 <= hyp.words[0].start_s < hyp.words[-1].end_s <= len(after) / 16000 + 0.05
    assert hyp.words[0].start_s < 1.0  # "ask" is near the second audio's start, not where the first one began
    # Nothing said after the pause: nothing read on (the caller decodes that audio alone, with its silence checks).
    assert recognizer.transcribe_after(before, "And so my fellow Americans,", np.zeros(16000, np.float32)) is None
