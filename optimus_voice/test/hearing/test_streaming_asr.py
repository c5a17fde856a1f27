"""The streaming recognizer on real speech: turns, partials, endpointing, the turn's audio, no text on noise."""

import itertools

import numpy as np
import pytest
from helpers import steady_voice, words
from optimus_voice.audio_io.sources import FileSource

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run_stream(asr, path, **kw):
    events = []
    for chunk in FileSource(path, realtime=False, **kw).chunks():
        events += asr.push(chunk)
    return events + asr.flush()


def test_streaming_asr_on_real_speech(asr_parts, data_dir):
    from optimus_voice.hearing.asr import StreamingAsr, TranscriptEvent, VadEvent

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
    # Speech starts after the half second of lead silence (the turn starts the preroll before, or at the stream's
    # start), and ends before the clip does.
    preroll = int(asr.cfg.preroll_ms * 16)
    assert 0.4 * 16000 <= starts[0].start_index + preroll <= 1.2 * 16000
    assert ends[0].end_index <= (0.5 + 2.6) * 16000


def test_a_turn_opened_over_the_robot_says_how_much_of_it_the_canceller_heard_as_double_talk(asr_parts, data_dir):
    """The share is taken over the speech that opened the turn, not over the preroll before it."""
    import dataclasses

    from optimus_voice.hearing.asr import StreamingAsr, VadEvent

    vad_cls, recognizer = asr_parts
    chunks = list(FileSource(data_dir / "cv_concourse.wav", realtime=False, lead_silence_s=1.0).chunks())
    speech_from = next(i for i, c in enumerate(chunks) if np.abs(c.samples).max() > 0.05)
    shares = {}
    for marked in ("none", "speech", "before"):
        asr = StreamingAsr(vad_cls(), recognizer)
        starts = []
        for i, chunk in enumerate(chunks):
            on = (marked == "speech" and i >= speech_from) or (marked == "before" and i < speech_from)
            events = asr.push(dataclasses.replace(chunk, double_talk=1.0 if on else 0.0))
            starts += [e for e in events if isinstance(e, VadEvent) and e.kind == "start"]
        assert len(starts) == 1
        shares[marked] = starts[0].double_talk
        asr.close()
    assert shares["none"] == 0.0 and shares["speech"] > 0.7 and shares["before"] < 0.3, shares


def test_the_vad_hears_the_gated_audio_and_the_words_are_read_from_the_ungated(asr_parts, data_dir):
    """An echo canceller's gate took the first word ("What") for the echo's leftover: the turn opens where the gated
    audio has a voice, and its words come from the audio before the gate (AudioChunk.words), preroll included."""
    import dataclasses

    from optimus_voice.hearing.asr import StreamingAsr, TranscriptEvent, VadEvent

    vad_cls, recognizer = asr_parts
    chunks = list(FileSource(data_dir / "cv_what_did_he_look_like.wav", realtime=False, lead_silence_s=0.5).chunks())
    gate_until = int((0.5 + 0.86) * 16000)  # the lead silence and "What"
    heard = {}
    for given in (False, True):
        asr = StreamingAsr(vad_cls(), recognizer)
        events = []
        for chunk in chunks:
            gated = chunk.samples.copy()
            gated[:max(0, gate_until - chunk.first_sample_index)] = 0.0
            events += asr.push(dataclasses.replace(chunk, samples=gated, words=chunk.samples if given else None))
        events += asr.flush()
        asr.close()
        starts = [e for e in events if isinstance(e, VadEvent) and e.kind == "start"]
        finals = [e.hypothesis.text for e in events if isinstance(e, TranscriptEvent) and e.is_final]
        assert len(starts) == len(finals) == 1, finals
        assert starts[0].onset_ns >= chunks[0].stamp_ns + (gate_until - 1600) * 10 ** 9 // 16000  # the gated onset
        heard[given] = words(finals[0])
    assert "what" in heard[True] and "what" not in heard[False], heard


def test_partials_have_a_stable_prefix_and_decoding_them_in_the_background_changes_no_turn(asr_parts, data_dir):
    from optimus_voice.hearing.asr import AsrConfig, StreamingAsr, TranscriptEvent, VadEvent

    vad_cls, recognizer = asr_parts
    runs = {}
    for background in (False, True):
        cfg = AsrConfig(partial_interval_ms=500.0, hold_silence_ms=900.0, background_partials=background)
        asr = StreamingAsr(vad_cls(), recognizer, cfg)
        runs[background] = run_stream(asr, data_dir / "jfk.wav", lead_silence_s=0.3)
        asr.close()
    for events in runs.values():
        partials = [e for e in events if isinstance(e, TranscriptEvent) and not e.is_final]
        assert partials
        for e in partials:
            assert 0 <= e.stable_words <= len(e.hypothesis.text.split())
        # Every partial comes before its turn's final, never after it.
        finals_at = {e.turn_id: i for i, e in enumerate(events) if isinstance(e, TranscriptEvent) and e.is_final}
        assert all(i < finals_at[e.turn_id] for i, e in enumerate(events)
                   if isinstance(e, TranscriptEvent) and not e.is_final)

    def turns(events):
        return [(e.kind, e.start_index, e.end_index) for e in events if isinstance(e, VadEvent)], \
               [e.hypothesis.text for e in events if isinstance(e, TranscriptEvent) and e.is_final]

    # The voice activity and the finals do not depend on where the partials are decoded.
    assert turns(runs[True]) == turns(runs[False])


def test_a_complete_sentence_ends_the_turn_fast_with_the_speculative_decode(asr_parts, data_dir):
    from optimus_voice.hearing.asr import AsrConfig, StreamingAsr, TranscriptEvent, VadEvent

    vad_cls, recognizer = asr_parts
    cfg = AsrConfig()
    asr = StreamingAsr(vad_cls(), recognizer, cfg)
    events = []
    silence_windows = None
    for chunk in FileSource(data_dir / "cv_what_did_he_look_like.wav", realtime=False, lead_silence_s=0.3).chunks():
        new = asr.push(chunk)
        events += new
        if any(isinstance(e, VadEvent) and e.kind == "end" for e in new):
            end = next(e for e in new if isinstance(e, VadEvent) and e.kind == "end")
            silence_windows = (chunk.first_sample_index + len(chunk.samples) - end.end_index) / 16000 * 1000
    final = next(e for e in events if isinstance(e, TranscriptEvent) and e.is_final)
    assert "look like" in final.hypothesis.text.lower()
    assert asr.speculative_hits == 1, "the final is the decode started at the first pause"
    # The question is complete, so the turn ended after end_silence_ms of silence, not hold_silence_ms.
    assert silence_windows is not None and silence_windows < cfg.hold_silence_ms


def test_asr_follows_a_stream_that_jumps_back_and_hands_out_the_turn_audio(asr_parts, data_dir):
    """A corrupt frame index far ahead, then the real stream again: the turn is still found, with a plausible id
    and the real positions; and the turn's audio goes out before the events that name its samples."""
    from optimus_voice.audio_io.sources import AudioChunk
    from optimus_voice.contract.stamps import plausible_turn
    from optimus_voice.hearing.asr import AsrConfig, SpeechAudio, StreamingAsr, TranscriptEvent, VadEvent

    vad_cls, recognizer = asr_parts
    asr = StreamingAsr(vad_cls(), recognizer, AsrConfig(partial_interval_ms=0))
    order: list = []
    asr.on_speech_audio = order.append
    asr.on_pause = order.append
    events = asr.push(AudioChunk(np.zeros(320, np.float32), 2**62, 0))
    for chunk in FileSource(data_dir / "cv_what_did_he_look_like.wav", realtime=False, lead_silence_s=0.3).chunks():
        new = asr.push(chunk)
        order += new
        events += new
    final = next(e for e in events if isinstance(e, TranscriptEvent) and e.is_final)
    assert "look like" in final.hypothesis.text.lower() and plausible_turn(final.turn_id)
    assert 0 < final.start_index < 16000
    audio = [a for a in order if isinstance(a, SpeechAudio)]
    assert audio[0].first_sample_index == final.start_index
    assert all(b.first_sample_index == a.first_sample_index + len(a.samples) for a, b in itertools.pairwise(audio))
    for event in (e for e in order if isinstance(e, VadEvent)):
        heard = [a for a in order[:order.index(event)] if isinstance(a, SpeechAudio)]
        assert heard and heard[-1].first_sample_index + len(heard[-1].samples) >= max(event.start_index,
                                                                                      event.end_index)


def test_a_pause_after_and_does_not_end_the_turn(asr_parts):
    """ "I would like to go to the beach and ... then have some lunch": a 0.4 s pause after "and" (plus the silence
    Piper ends a piece with) holds the turn open, where silence alone (the same 256 ms for every pause) cuts the
    sentence in two. The speech is our Piper voice without its sampled noise, so the words, the pause and the audio
    are the same on every run."""
    from optimus_voice.audio_io.sources import AudioChunk
    from optimus_voice.hearing.asr import AsrConfig, StreamingAsr, TranscriptEvent

    parts = []
    for text in ("I would like to go to the beach and", "then have some lunch."):
        parts += [steady_voice(text)[0], np.zeros(6400, np.float32)]
    audio = np.concatenate([np.zeros(4800, np.float32), *parts, np.zeros(16000, np.float32)])
    vad_cls, recognizer = asr_parts

    def finals(cfg):
        asr = StreamingAsr(vad_cls(), recognizer, cfg)
        events = [e for i in range(0, len(audio), 320) for e in asr.push(AudioChunk(audio[i:i + 320], i, 0))]
        return [e.hypothesis.text for e in events + asr.flush() if isinstance(e, TranscriptEvent) and e.is_final]

    held = finals(AsrConfig(partial_interval_ms=0))
    assert len(held) == 1 and {"beach", "lunch"} <= words(held[0]), held
    silence_only = finals(AsrConfig(partial_interval_ms=0, hold_silence_ms=AsrConfig.end_silence_ms))
    assert len(silence_only) == 2, silence_only
    # Cut all the same, the second turn can read on from the first (context_gap_ms): Whisper hears the first turn's
    # audio before its own, made to begin with the first's text, and only the rest of the sentence comes back. Or,
    # with context_audio off, the first turn's text alone is the second's prompt.
    for context_audio in (True, False):
        cfg = AsrConfig(partial_interval_ms=0, hold_silence_ms=AsrConfig.end_silence_ms, context_gap_ms=1000.0,
                        context_audio=context_audio)
        asr = StreamingAsr(vad_cls(), recognizer, cfg)
        events, contexts = [], []
        for i in range(0, len(audio), 320):
            events += asr.push(AudioChunk(audio[i:i + 320], i, 0))
            if asr._turn is not None:
                contexts.append((asr._turn.context, asr._turn.context_audio is not None))
        first, second = [e.hypothesis for e in events + asr.flush() if isinstance(e, TranscriptEvent) and e.is_final]
        assert set(contexts) == {("", False), (first.text, context_audio)}, contexts
        assert second.continues == context_audio
        assert "lunch" in words(second.text) and not {"beach", "like"} & words(second.text), second.text
        assert 0.0 <= second.words[0].start_s < 1.0  # timed from the second turn's start, as every turn's words


def test_silence_and_noise_produce_no_turn(asr_parts):
    from optimus_voice.audio_io.sources import AudioChunk
    from optimus_voice.hearing.asr import StreamingAsr

    vad_cls, recognizer = asr_parts
    asr = StreamingAsr(vad_cls(), recognizer)
    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(16000 * 2, np.float32), 0.05 * rng.standard_normal(16000 * 3).astype(np.float32)])
    events = []
    for i in range(0, len(audio), 320):
        events += asr.push(AudioChunk(audio[i:i + 320], i, 0))
    assert events + asr.flush() == []


def test_missing_model_is_a_clear_error(tmp_path):
    from optimus_voice.common.models import ModelMissingError
    from optimus_voice.hearing.vad import SileroVad

    with pytest.raises(ModelMissingError, match="does not exist"):
        SileroVad(str(tmp_path / "nope.onnx"))
