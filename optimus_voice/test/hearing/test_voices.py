"""The voice encoder and the offline diarizer on real speech of different people (test/data)."""

from __future__ import annotations

import numpy as np
import pytest
from optimus_voice.audio_io.sources import load_audio
from optimus_voice.hearing.diarization import Diarizer
from optimus_voice.hearing.voice_encoder import RATE, VoiceEncoder, mel_filters, mel_spectrogram
from optimus_voice.tools.der import score


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder()


@pytest.fixture(scope="module")
def clips(data_dir) -> dict[str, np.ndarray]:
    return {name: load_audio(data_dir / f"{name}.wav")
            for name in ("jfk", "librivox_ill_disposed", "cv_concourse", "cv_what_did_he_look_like")}


def test_mel_front_end_puts_a_tone_in_its_band() -> None:
    filters = mel_filters()
    assert filters.shape == (40, 201)
    tone = np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE).astype(np.float32)
    mel = mel_spectrogram(tone)
    assert mel.shape == (101, 40)  # centred frames every 10 ms
    band = int(np.argmax(mel[50]))
    assert filters[band, 25] > 0  # FFT bin 25 = 1000 Hz lies inside the loudest band's filter


def test_same_voice_is_closer_than_other_voices(encoder, clips) -> None:
    jfk = clips["jfk"]
    first, second = encoder.embed(jfk[:5 * RATE]), encoder.embed(jfk[5 * RATE:])
    assert abs(float(np.linalg.norm(first)) - 1) < 1e-4
    same = float(first @ second)
    others = [float(first @ encoder.embed(clips[name])) for name in clips if name != "jfk"]
    assert same > 0.75
    assert same > max(others) + 0.15, (same, others)


def test_quiet_speech_gets_the_same_vector(encoder, clips) -> None:
    audio = clips["librivox_ill_disposed"]
    assert float(encoder.embed(audio) @ encoder.embed(audio * 0.05)) > 0.99


def test_diarizer_tells_two_people_apart(clips) -> None:
    gap = np.zeros(RATE // 2, np.float32)
    jfk, other = clips["jfk"], clips["librivox_ill_disposed"]
    audio = np.concatenate([jfk, gap, other, gap, other, gap, jfk[:4 * RATE]])
    t_other = len(jfk) / RATE + 0.5
    truth = [(0.0, len(jfk) / RATE, "A"), (t_other, t_other + len(other) / RATE, "B"),
             (t_other + len(other) / RATE + 0.5, t_other + 2 * len(other) / RATE + 0.5, "B"),
             (t_other + 2 * len(other) / RATE + 1.0, len(audio) / RATE, "A")]
    result = Diarizer()(audio)
    assert len(result.speakers) == 2
    parts = score(truth, [(s.start, s.end, s.speaker) for s in result.segments], (0.0, len(audio) / RATE))
    assert parts.confusion_s < 0.5, parts  # pauses inside JFK's speech are missed/false alarm, not confusion
    assert parts.der < 0.25, parts
    rttm = result.rttm("two_people").splitlines()
    assert rttm and all(line.startswith("SPEAKER two_people 1 ") and line.count("<NA>") == 4 for line in rttm)


def test_silence_and_noise_have_no_speakers() -> None:
    rng = np.random.default_rng(0)
    for audio in (np.zeros(5 * RATE, np.float32), (0.003 * rng.standard_normal(5 * RATE)).astype(np.float32)):
        result = Diarizer()(audio)
        assert result.segments == [] and result.speakers == []


def _turn(voices, turn_id: int, audio: np.ndarray, chunk: int = 320):
    for i in range(0, len(audio), chunk):
        voices.add_audio(turn_id, 1000 * turn_id + i, audio[i:i + chunk])
    return voices.finish(turn_id, 1000 * turn_id + len(audio))


def test_each_person_keeps_one_voice_id_and_a_new_person_gets_a_new_one(encoder, clips) -> None:
    from optimus_voice.hearing.voice_ids import TurnVoices

    voices = TurnVoices(encoder)
    jfk, other = clips["jfk"], clips["librivox_ill_disposed"]
    first = _turn(voices, 1, jfk[:5 * RATE])
    assert first.enrolled and first.voice_id == "voice_1"
    second = _turn(voices, 2, other)
    assert second.enrolled and second.voice_id == "voice_2"
    again = _turn(voices, 3, jfk[6 * RATE:])
    assert not again.enrolled and again.voice_id == "voice_1" and again.similarity > 0.75
    # Embedding while the turn is spoken leaves little for its end: one window at most.
    assert again.embed_ms > 0
    assert [v.voice_id for v in voices.registry.voices] == ["voice_1", "voice_2"]


def test_provisional_id_while_speaking_and_too_little_speech(encoder, clips) -> None:
    from optimus_voice.hearing.voice_ids import TurnVoices

    voices = TurnVoices(encoder)
    jfk = clips["jfk"]
    _turn(voices, 1, jfk[:5 * RATE])
    assert voices.provisional(2) == ""  # nothing of turn 2 yet
    for i in range(0, 3 * RATE, 320):
        voices.add_audio(2, i, jfk[6 * RATE + i:6 * RATE + i + 320])
    assert voices.provisional(2) == "voice_1"  # known before the turn ends
    assert _turn(voices, 3, jfk[:RATE // 10]) is None  # 0.1 s: nobody can be told from that
    assert len(voices.registry.voices) == 1


def test_a_short_turn_of_a_stranger_takes_the_nearest_voice(encoder, clips) -> None:
    from optimus_voice.hearing.voice_ids import TurnVoices, VoiceIdConfig, VoiceRegistry

    voices = TurnVoices(encoder, VoiceRegistry(VoiceIdConfig(min_enroll_s=1.5, max_voices=2)))
    assert voices.registry.next_id == "voice_1"
    _turn(voices, 1, clips["jfk"][:5 * RATE])
    short = _turn(voices, 2, clips["cv_concourse"][:RATE])  # 1 s: too short to enroll
    assert short.voice_id == "voice_1" and not short.enrolled
    assert voices.registry.next_id == "voice_2"  # the node makes its topics before it is heard
    _turn(voices, 3, clips["librivox_ill_disposed"])
    assert voices.registry.next_id == ""  # no more voices: none is made ready
    full = _turn(voices, 4, clips["cv_what_did_he_look_like"])  # a third person, but only 2 voices are kept
    assert full.voice_id in ("voice_1", "voice_2") and len(voices.registry.voices) == 2
