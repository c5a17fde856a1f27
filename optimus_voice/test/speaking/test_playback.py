"""What of a reply has been played, without DDS: the speech stream's frames and visemes from real Piper speech,
words played by the speaker's reports or by the clock, interruption and superseded replies."""

import itertools

import pytest
from optimus_voice.contract.health import Health
from optimus_voice.contract.stamps import NS_PER_S
from optimus_voice.speaking.playback import DONE, INTERRUPTED, SPEAKING, STARTED, PlaybackTracker
from optimus_voice.speaking.speech import AudioOut, SpeechOutput, VisemesOut
from optimus_voice.speaking.tts import Synthesizer

TEXT = "Hello there. My name is Optimus, and I can help you."


@pytest.fixture(scope="module")
def synth():
    return Synthesizer()


def test_a_reply_becomes_one_gapless_stream_with_its_visemes_on_it(synth):
    tracker = PlaybackTracker(synth.sample_rate)
    speech = SpeechOutput(synth, tracker, frame_ms=40.0, health=Health())
    out = list(speech.speak(5, TEXT, "happy"))
    frames = [o for o in out if isinstance(o, AudioOut)]
    visemes = [v for o in out if isinstance(o, VisemesOut) for v in o.visemes]
    assert {f.turn_id for f in frames} == {5} and frames[0].first_sample_index == 0
    for a, b in itertools.pairwise(frames):
        assert b.first_sample_index == a.first_sample_index + len(a.samples)
    end = frames[-1].first_sample_index + len(frames[-1].samples)
    # The visemes tile the stream: no gap, no overlap, nothing past its end; and they are due in stream order.
    assert visemes[0].sample_index == 0
    for a, b in itertools.pairwise(visemes):
        assert b.sample_index == a.sample_index + round(a.duration_s * synth.sample_rate)
        assert b.start_ns >= a.start_ns
    assert visemes[-1].sample_index + round(visemes[-1].duration_s * synth.sample_rate) == end
    utt = tracker.current
    assert utt.synthesized and utt.samples == end and [w for w, _ in utt.words] == TEXT.split()
    # The next reply continues the same stream.
    more = [o for o in speech.speak(6, "Bye.") if isinstance(o, AudioOut)]
    assert more[0].first_sample_index == end


def test_words_played_follow_the_speakers_reports(synth):
    tracker = PlaybackTracker(synth.sample_rate)
    list(SpeechOutput(synth, tracker).speak(5, TEXT))
    utt = tracker.current
    second_word_end = utt.words[1][1]
    # The speaker reports at 16 kHz: its samples are scaled to the voice's rate.
    reports = tracker.reported(5, second_word_end * 16000 // synth.sample_rate + 1, 16000, drained=False)
    assert [p.state for p in reports] == [STARTED, SPEAKING]
    assert reports[-1].spoken_text == "Hello there." and reports[-1].words_total == len(TEXT.split())
    assert tracker.reported(4, 10**9, 16000, drained=True) == []  # another turn's report changes nothing
    # Everything played but the queue not yet drained: still speaking; drained: done, with every word.
    assert tracker.reported(5, 10**9, synth.sample_rate, drained=False)[-1].state == SPEAKING
    (done,) = tracker.reported(5, 10**9, synth.sample_rate, drained=True)
    assert done.state == DONE and done.spoken_text == TEXT and done.words_played == len(TEXT.split())
    assert tracker.reported(5, 10**9, synth.sample_rate, drained=True) == []  # reported once


def test_interruption_reports_the_words_heard_so_far_and_newer_turns_supersede(synth):
    tracker = PlaybackTracker(synth.sample_rate)
    assert tracker.request(5) == (True, None)
    speech = SpeechOutput(synth, tracker)
    stream = speech.speak(5, TEXT)
    sent = []
    while sum(len(f.samples) for f in sent) < 1.5 * synth.sample_rate:  # 1.5 s of it sent to the speaker
        sent += [o for o in [next(stream)] if isinstance(o, AudioOut)]
    tracker.by_clock(sent[0].stamp_ns + int(0.9 * NS_PER_S))  # the clock says 0.9 s have played
    take, interrupted = tracker.request(6)  # a newer turn supersedes the reply being spoken
    assert take and interrupted.state == INTERRUPTED and interrupted.turn_id == 5
    assert 0 < interrupted.words_played < len(TEXT.split())
    assert interrupted.spoken_text == " ".join(TEXT.split()[:interrupted.words_played])
    assert list(stream) == []  # nothing more of it is sent
    assert tracker.request(4) == (False, None)  # and an older turn's request is stale
    assert tracker.interrupt() is None  # nothing being spoken: nothing to interrupt


def test_the_sentences_of_one_turn_are_one_reply_as_the_speaker_counts_them(synth):
    """A language model's reply is one SAY per sentence, all of one turn, and the speaker reports the samples it
    played of the turn. The second sentence began a new account from nothing, so the first one's samples counted
    as the second one's words (reported played before they were), and the first was never reported done."""
    tracker = PlaybackTracker(synth.sample_rate)
    speech = SpeechOutput(synth, tracker)
    first, second = "Hello there.", "My name is Optimus, and I can help you."
    list(speech.speak(5, first))
    first_samples = tracker.current.samples
    list(speech.speak(5, second))  # queued while the first plays: the same reply goes on
    utt = tracker.current
    assert utt.text == f"{first} {second}" and [w for w, _ in utt.words] == f"{first} {second}".split()
    (started, speaking) = tracker.reported(5, first_samples, synth.sample_rate, drained=False)
    assert started.state == STARTED and speaking.spoken_text == first  # not a word of the second sentence
    (done,) = tracker.reported(5, utt.samples, synth.sample_rate, drained=True)
    assert done.state == DONE and done.spoken_text == f"{first} {second}"
    # A sentence that comes after the turn's reply was all played is a reply of its own, counted from where the
    # speaker's count of the turn stands.
    list(speech.speak(5, "Anything else?"))
    later = tracker.current
    assert later is not utt and later.offset == utt.samples
    reports = tracker.reported(5, utt.samples + later.samples // 2, synth.sample_rate, drained=False)
    assert [p.state for p in reports] == [STARTED, SPEAKING] and reports[-1].text == "Anything else?"
    assert 0 < reports[-1].words_played < 2
    # Stopped halfway, the speaker drops the rest: what comes next of the turn counts from what it did play.
    assert tracker.stop().state == INTERRUPTED
    tracker.request(5)
    list(speech.speak(5, "Yes?", ticket=tracker.taken))
    assert tracker.current.offset == utt.samples + later.samples // 2


def test_a_stop_drops_the_requests_still_waiting_and_not_those_after_it(synth):
    tracker = PlaybackTracker(synth.sample_rate)
    speech = SpeechOutput(synth, tracker)
    assert tracker.request(5)[0]
    first = tracker.taken
    assert tracker.request(5)[0]
    waiting = tracker.taken
    stream = speech.speak(5, TEXT, ticket=first)
    next(stream)
    assert tracker.stop().state == INTERRUPTED
    assert list(stream) == [] and list(speech.speak(5, "And more.", ticket=waiting)) == []
    assert tracker.request(5)[0]  # asked after the stop: said
    assert [o for o in speech.speak(5, "Yes?", ticket=tracker.taken) if isinstance(o, AudioOut)]
