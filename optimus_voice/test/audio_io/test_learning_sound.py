"""The learning sound: what it is, and what it is for (the robot's first words cancelled at a first start-up)."""

import numpy as np
import pytest
from helpers import steady_voice
from optimus_voice.audio_io.learning_sound import LEVEL_DBFS, SECONDS, learning_sound
from optimus_voice.tools.room import Room, through_room


def test_it_is_a_soft_broadband_swell_the_same_every_time():
    sound = learning_sound(22050)
    assert sound.dtype == np.float32 and len(sound) == round(SECONDS * 22050)
    assert 20 * np.log10(np.sqrt(np.mean(sound ** 2))) == pytest.approx(LEVEL_DBFS, abs=0.01)
    assert np.abs(sound).max() < 0.5  # no clipping, room to spare
    assert np.array_equal(sound, learning_sound(22050))
    # No edge: its first and last 10 ms are 20 dB under its middle.
    edge = int(0.01 * 22050)
    middle = sound[len(sound) // 2 - edge:len(sound) // 2 + edge]
    for end in (sound[:edge], sound[-edge:]):
        assert np.mean(end ** 2) < 0.01 * np.mean(middle ** 2)
    # Every octave the canceller works in gets about the same energy (pink), so none is learnt late.
    power = np.abs(np.fft.rfft(sound)) ** 2
    freqs = np.fft.rfftfreq(len(sound), 1 / 22050)
    octaves = [float(np.sum(power[(freqs >= lo) & (freqs < 2 * lo)])) for lo in (125, 250, 500, 1000, 2000, 3900)]
    assert max(octaves) / min(octaves) < 10 ** 0.3, octaves  # within 3 dB
    assert np.sum(power[freqs > 8000]) < 1e-6 * np.sum(power)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="positive"):
        learning_sound(0)
    with pytest.raises(ValueError, match="positive"):
        learning_sound(16000, seconds=0)


def first_words_removed_db(sound: np.ndarray, rate: int, speech: np.ndarray, room: Room) -> float:
    """The speaker plays `sound`, half a second of silence and `speech` (all at `rate`) into a room; a canceller
    that has not heard the room before takes it as the capture node does. dB of the robot's voice it removes in the
    first half-second of the speech."""
    played = np.concatenate([sound, np.zeros(rate // 2, np.float32), speech])
    echo = through_room(played, rate, room.impulse_response() * 0.5, noise_rms=3e-4)  # with the room's noise
    start = len(sound) / rate + 0.5
    return echo.removed_db(start, start + 0.5)


def test_after_it_the_robots_first_words_are_cancelled_where_from_nothing_they_are_not():
    _, speech, rate = steady_voice("Sorry, I didn't get that. Could you say it another way?")
    room = Room(seed=11)
    from_nothing = first_words_removed_db(np.zeros(0, np.float32), rate, speech, room)
    after_sound = first_words_removed_db(learning_sound(rate), rate, speech, room)
    assert from_nothing < 6, from_nothing  # the first words reach the recognizer as words
    assert after_sound > 25, after_sound
