"""Piper speech: what the ASR hears of it, short first pieces, odd input, visemes, styles."""

import numpy as np
from helpers import words


def test_tts_speaks_what_asr_hears(asr_parts):
    import soxr
    from optimus_voice.speaking.tts import Synthesizer, split_text

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


def test_first_piece_is_short_whatever_the_reply():
    from optimus_voice.speaking.tts import split_text

    long = ("When the delivery arrives I will carry it to the storage room and check every item against the list "
            "before I let you know.")
    pieces = split_text(long)
    assert len(pieces[0].split()) <= 6 and " ".join(pieces) == long
    assert split_text("I can chat with you, tell you the time and date, and more.")[0] == "I can chat with you,"


def test_synthesizer_takes_odd_text_and_bad_numbers():
    from optimus_voice.speaking.tts import Synthesizer

    synth = Synthesizer()
    assert list(synth.synthesize("\x00 ... ?!")) == []  # nothing to pronounce: no audio, no error
    plain = sum(len(c.samples) for c in synth.synthesize("Hello there.", "calm"))
    odd = sum(len(c.samples) for c in synth.synthesize("Hello\u202e there\x00.", "calm", float("nan"), float("inf")))
    assert odd > 0.5 * plain  # NaN rate means the default rate, not a zero-length or endless reply
    fastest = sum(len(c.samples) for c in synth.synthesize("Hello there.", "calm", 1e9))
    assert 0.3 * plain < fastest < plain  # held to the fastest allowed rate


def test_piper_visemes_cover_the_audio_and_mark_the_words():
    from optimus_voice.speaking.tts import Synthesizer
    from optimus_voice.speaking.visemes import VISEMES

    synth = Synthesizer()
    assert synth.alignments, "Piper phoneme alignments need the onnx package"
    (chunk,) = synth.synthesize("Maybe five of them.", "neutral")
    spans = chunk.visemes
    assert all(v.viseme in VISEMES for v in spans)
    # Contiguous, in order, and covering every sample of the audio.
    assert [v.start for v in spans[1:]] == [v.start + v.samples for v in spans[:-1]]
    assert spans[-1].start + spans[-1].samples == len(chunk.samples)
    shapes = [v.viseme for v in spans]
    assert shapes[0] == "sil" and "PP" in shapes and "FF" in shapes  # the m of maybe, the f of five
    assert shapes.index("PP") < shapes.index("FF")
    # One word end per word, increasing, the last at the end of the audio.
    assert len(chunk.word_ends) == 4 and chunk.word_ends == sorted(chunk.word_ends)
    assert chunk.word_ends[-1] == len(chunk.samples)


def test_styles_change_the_voice():
    from optimus_voice.speaking.tts import Synthesizer

    synth = Synthesizer()
    text = "It is nice to hear from you."
    # Piper's durations are sampled (noise_w): compare means over a few runs.
    length = {s: np.mean([sum(len(c.samples) for c in synth.synthesize(text, s)) for _ in range(3)])
              for s in ("excited", "sad")}
    assert length["sad"] > length["excited"] * 1.05


def test_a_prepared_reply_starts_from_its_held_piece_and_any_other_drops_it():
    from optimus_voice.contract.health import Health
    from optimus_voice.speaking.playback import PlaybackTracker
    from optimus_voice.speaking.speech import AudioOut, SpeechOutput
    from optimus_voice.speaking.tts import Synthesizer

    synth = Synthesizer()
    health = Health()
    speech = SpeechOutput(synth, PlaybackTracker(synth.sample_rate), health=health)
    text = "It is ten past four. Anything else?"
    speech.prepare(3, text, "happy", 1.0, 1.0)
    assert speech.index == 0 and health.counters.get("prepared_used") is None  # nothing sent yet
    frames = [o for o in speech.speak(3, text, "happy", 1.0, 1.0) if isinstance(o, AudioOut)]
    assert health.counters["prepared_used"] == 1
    # The whole reply comes out, the held piece first: the frames cover both pieces' audio, on one index.
    assert sum(len(f.samples) for f in frames) == speech.index > synth.sample_rate
    assert [f.first_sample_index for f in frames[1:]] == [f.first_sample_index + len(f.samples) for f in frames[:-1]]
    assert speech.tracker.current.words[-1][0] == "else?"
    # Another reply (or the same words in another style) is not the prepared one: it is synthesized afresh.
    speech.prepare(4, "Hello there.", "neutral", 1.0, 1.0)
    list(speech.speak(4, "Hello there.", "happy", 1.0, 1.0))
    speech.prepare(5, "Hello there.", "neutral", 1.0, 1.0)
    speech.prepare(6, "Goodbye.", "neutral", 1.0, 1.0)
    assert health.counters["prepared_used"] == 1 and health.counters["prepared_dropped"] == 2


def test_a_piece_said_again_comes_from_the_cache_with_its_own_volume():
    from optimus_voice.speaking.tts import STYLES, Synthesizer

    synth = Synthesizer(cache_s=5.0)
    first = list(synth.synthesize("Sorry, I didn't get that. Could you say it another way?"))
    assert not any(c.cached for c in first) and synth.cache.samples == sum(len(c.samples) for c in first)
    again = list(synth.synthesize("Sorry, I didn't get that. Please say it again.", volume=0.5))
    assert [c.cached for c in again] == [True, False]
    assert np.allclose(again[0].samples, first[0].samples * 0.5, atol=1e-6)
    assert again[0].visemes == first[0].visemes and again[0].word_ends == first[0].word_ends
    assert not next(synth.synthesize("Sorry, I didn't get that.", "sad")).cached  # another prosody
    # Bounded: 5 s of audio, the least recently used piece goes first.
    assert synth.cache.samples <= 5 * synth.sample_rate
    assert synth.cache.get(("Could you say it another way?", STYLES["neutral"], 1.0)) is None
    assert synth.cache.get(("Sorry, I didn't get that.", STYLES["sad"], 1.0)) is not None


def test_a_time_is_said_in_words_and_each_piece_says_what_was_spoken():
    from optimus_voice.speaking.tts import Synthesizer

    synth = Synthesizer()
    pieces = list(synth.synthesize("It's 7:05 PM on Monday, December 7. **Enjoy** 😀"))
    assert [p.text for p in pieces] == ["It's seven oh five PM", "on Monday, December seventh.", "Enjoy"]
    # Each word's end comes from Piper's phoneme alignment of the words actually spoken.
    assert all(len(p.word_ends) == len(p.text.split()) for p in pieces)
    # The lines of a list are sentences of their own, without their marks.
    listed = synth.synthesize("You'll need:\n- two eggs\n- flour")
    assert [p.text for p in listed] == ["You'll need: two eggs.", "flour."]


def test_a_reply_warmed_ahead_starts_from_the_cache():
    from optimus_voice.speaking.tts import Synthesizer

    synth = Synthesizer(cache_s=10.0)
    assert synth.warm("I'm sorry you're feeling down. Could you tell me a little more?", "calm")
    assert not synth.warm("I'm sorry you're feeling down. Tell me.", "calm")  # the same first piece: there already
    pieces = list(synth.synthesize("I'm sorry you're feeling down. Could you tell me a little more?", "calm"))
    assert [p.cached for p in pieces] == [True, False]  # only the first piece is synthesized ahead
    assert not next(synth.synthesize("I'm sorry you're feeling down.", "happy")).cached  # in another style
    assert not Synthesizer(cache_s=0.0).warm("Hello!")  # nothing is kept: nothing to warm
