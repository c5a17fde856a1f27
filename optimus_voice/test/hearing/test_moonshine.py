"""Moonshine base, rewritten from the moonshine-cpp wheel: real speech, no text on silence, a turn read on."""

import numpy as np
import pytest
from helpers import words
from optimus_voice.audio_io.sources import FileSource, load_audio

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def moonshine():
    from optimus_voice.hearing.moonshine import MoonshineRecognizer

    return MoonshineRecognizer()


def test_moonshine_reads_real_speech_with_word_estimates(moonshine, data_dir):
    audio = load_audio(data_dir / "jfk.wav")
    hyp = moonshine.transcribe(audio)
    assert {"ask", "not", "what", "your", "country", "can", "do", "for", "you"} <= words(hyp.text), hyp.text
    # Word times are the voiced audio shared out by length: in order, inside the speech; confidences are
    # probabilities. With half a second of silence on either side, the words stay off the silence.
    starts = [w.start_s for w in hyp.words]
    assert starts == sorted(starts) and starts[0] >= 0.0 and hyp.words[-1].end_s <= len(audio) / 16000 + 1e-6
    padded = np.concatenate([np.zeros(8000, np.float32), audio, np.zeros(8000, np.float32)])
    timed = moonshine.transcribe(padded).words
    assert timed[0].start_s >= 0.5 and timed[-1].end_s <= 0.5 + len(audio) / 16000 + 1e-6
    assert all(0.0 < w.confidence <= 1.0 for w in hyp.words) and 0.0 < hyp.confidence <= 1.0
    # The word Whisper tiny.en misread in this LibriVox clip (issue 22).
    assert "ill" in words(moonshine.transcribe(load_audio(data_dir / "librivox_ill_disposed.wav")).text)


def test_one_word_with_silence_after_it_is_read(moonshine, data_dir):
    # The streaming ASR decodes a turn with its preroll and trailing silence. Moonshine, given the whole of it,
    # ended at once on this one word (BENCHMARKS.md): a decode with no text is tried again on the voiced part.
    audio = load_audio(data_dir / "cv_one.wav")
    for trailing_s in (0.2, 0.8):
        padded = np.concatenate([audio, np.zeros(int(trailing_s * 16000), np.float32)])
        hyp = moonshine.transcribe(padded)
        assert words(hyp.text) == {"one"}, (trailing_s, hyp.text)
        assert 0.5 < hyp.words[0].start_s < hyp.words[0].end_s < len(audio) / 16000, hyp.words


def test_moonshine_gives_no_text_on_silence_noise_or_a_tone(moonshine):
    rng = np.random.default_rng(0)
    t = np.arange(2 * 16000) / 16000
    for signal in (np.zeros(2 * 16000, np.float32), 0.1 * rng.standard_normal(2 * 16000).astype(np.float32),
                   (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)):
        assert moonshine.transcribe(signal).text == ""


def test_a_turn_read_on_from_the_one_before_comes_back_without_the_words_said_again(moonshine, data_dir):
    # JFK after his pause, read as what follows "And so my fellow Americans": both audios are decoded, and the
    # words of the first are taken off by matching them to what was said.
    audio = load_audio(data_dir / "jfk.wav")
    before, after = audio[:2 * 16000], np.concatenate([audio[2 * 16000:], np.zeros(8000, np.float32)])
    hyp = moonshine.transcribe_after(before, "And so my fellow Americans,", after)
    said = [w.text.strip(".,!?").lower() for w in hyp.words]
    assert hyp.continues and said[:2] == ["ask", "not"] and said[-2:] == ["your", "country"], hyp.text
    assert not {"fellow", "americans"} & set(said)
    assert all(0.0 <= w.start_s <= len(after) / 16000 for w in hyp.words)
    # Nothing said after the pause: no text. Decoded alone, the end of "Americans" in this turn's preroll would be
    # read again.
    tail = np.concatenate([audio[int(1.6 * 16000):2 * 16000], np.zeros(16000, np.float32)])
    nothing = moonshine.transcribe_after(before[:int(1.6 * 16000)], "And so my fellow Americans,", tail)
    assert nothing is not None and nothing.text == "" and nothing.words == [] and nothing.continues
    # What was said is not in the decode of the two (another sentence): not read on either.
    assert moonshine.transcribe_after(before, "The weather is lovely in June today,", after) is None


def test_a_character_spread_over_byte_tokens_is_read_whole():
    # A character the vocabulary lacks comes as one token per UTF-8 byte: decoded token by token, "é" would be two
    # replacement characters.
    from optimus_voice.hearing.moonshine import _estimated_words, text_of

    tokens = ["\u2581café".encode()[:-2], b"\xc3", b"\xa9", "\u2581au".encode(), b"\xe2", b"\x80", b"\x99", b"lait"]
    assert text_of(tokens) == "café au\u2019lait"
    words = _estimated_words(tokens, [0.9] * len(tokens), (0.0, 1.0))
    assert [w.text for w in words] == ["café", "au\u2019lait"]


def test_the_words_said_again_are_found_through_a_misheard_word():
    from optimus_voice.hearing.moonshine import after_said

    heard = ["And", "so,", "my", "fellow", "Americans,", "ask", "not"]
    assert after_said("And so my fellow Americans,", heard) == 5
    assert after_said("and so my follow Americans", heard) == 5      # one word heard otherwise
    assert after_said("and so my fellow", heard) == 4
    assert after_said("We choose to go to the moon", heard) == -1
    assert after_said("", heard) == 0


def test_the_streaming_asr_runs_on_moonshine(moonshine, data_dir):
    from optimus_voice.hearing.asr import StreamingAsr, TranscriptEvent
    from optimus_voice.hearing.vad import SileroVad

    asr = StreamingAsr(SileroVad(), moonshine)
    events = []
    for chunk in FileSource(data_dir / "cv_concourse.wav", realtime=False, lead_silence_s=0.5).chunks():
        events += asr.push(chunk)
    finals = [e for e in events + asr.flush() if isinstance(e, TranscriptEvent) and e.is_final]
    assert len(finals) == 1 and {"meet", "you", "concourse"} <= words(finals[0].hypothesis.text)


def test_the_rewrite_is_kept_and_reused(moonshine, tmp_path):
    from optimus_voice.hearing.moonshine import moonshine_source, prepared

    folder = prepared(moonshine_source())  # the one the fixture loaded: from the cache, not written again
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert {"encoder.onnx", "decoder.onnx", "cross_kv.npz", "tokenizer.bin"} <= stamps.keys()
    assert prepared(moonshine_source()) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    # A cache that cannot be written (a file where its folder should be): the rewrite goes to a temporary folder.
    blocked = tmp_path / "cache"
    blocked.write_text("not a folder")
    elsewhere = prepared(moonshine_source(), blocked)
    assert (elsewhere / "decoder.onnx").exists() and blocked not in elsewhere.parents


def test_rewrites_unused_for_a_month_and_half_written_ones_are_removed(tmp_path):
    import os
    import time

    from optimus_voice.hearing.moonshine import prune

    now, day = time.time(), 86400
    ages = {"moonshine-old": 40 * day, "moonshine-recent": 5 * day, ".moonshine-killed": 2 * 3600,
            ".moonshine-writing": 60, "moonshine-used": 90 * day, "whisper-other": 90 * day}
    for name, age in ages.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "decoder.onnx").write_bytes(b"x")
        os.utime(tmp_path / name, (now - age, now - age))
    removed = prune(tmp_path, tmp_path / "moonshine-used")
    assert sorted(p.name for p in removed) == [".moonshine-killed", "moonshine-old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".moonshine-writing", "moonshine-recent", "moonshine-used", "whisper-other"]
    assert (tmp_path / "moonshine-used").stat().st_mtime > now - 60  # marked used: kept another month


def test_a_recognizer_that_cannot_be_is_a_clear_error(tmp_path):
    from optimus_voice.common.models import ModelMissingError
    from optimus_voice.hearing.recognizers import make_recognizer

    with pytest.raises(ValueError, match="greedily"):
        make_recognizer("moonshine", beam_size=4)
    with pytest.raises(ValueError, match="unknown recognizer 'parakeet'"):
        make_recognizer("parakeet")
    with pytest.raises(ModelMissingError, match="does not exist"):
        make_recognizer("moonshine", str(tmp_path / "nope"))
    # Files that are not a model: the rewrite (a child process) fails, and says why, without taking this process.
    from optimus_voice.hearing.moonshine import prepared

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin"):
        (broken / name).write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match=r"rewriting Moonshine from .*broken failed"):
        prepared(broken, tmp_path / "cache")
