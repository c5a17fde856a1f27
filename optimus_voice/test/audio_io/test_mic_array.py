"""Microphone arrays on real speech placed at known directions by fractional delays (far field, free field)."""

from pathlib import Path

import numpy as np
import pytest
from helpers import place, with_mic_noise
from optimus_voice.audio_io.mic_array import (
    ArrayConfig,
    ArrayError,
    ArrayGeometry,
    ArrayProcessor,
    DelayAndSumBeam,
    DirectionFinder,
)
from optimus_voice.audio_io.sources import AudioChunk, load_audio
from optimus_voice.contract.audio import SAMPLE_RATE

DATA = Path(__file__).parent.parent / "data"
SQUARE = [0.03, 0.03, 0, -0.03, 0.03, 0, -0.03, -0.03, 0, 0.03, -0.03, 0]  # a head's 4 microphones, 6 cm apart
ACROSS = [0, 0.04, 0, 0, -0.04, 0]  # two ears, left and right
CHUNK = 320


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(DATA / "librivox_ill_disposed.wav")


@pytest.fixture(scope="module")
def other_speech() -> np.ndarray:
    return load_audio(DATA / "jfk.wav")


def feed(finder: DirectionFinder, multi: np.ndarray, robot: np.ndarray | None = None) -> None:
    for i in range(0, len(multi), CHUNK):
        finder.add(multi[i:i + CHUNK], i, bool(robot is not None and robot[i]))


def angle_error(a_rad: float, b_deg: float) -> float:
    return abs((np.degrees(a_rad) - b_deg + 180) % 360 - 180)


@pytest.mark.parametrize("azimuth", [0, 37, 90, 145, -120, 180])
def test_a_square_array_finds_the_talker_all_around(speech, azimuth):
    geometry = ArrayGeometry.from_flat(SQUARE)
    finder = DirectionFinder(geometry)
    feed(finder, with_mic_noise(place(speech, geometry, azimuth), 20))
    found = finder.estimate(0, len(speech))
    assert angle_error(found.azimuth, azimuth) <= 5
    assert found.elevation == 0 and not found.ambiguous and not found.robot_speaking
    assert found.confidence > 0.3
    assert found.frames_used >= 4


def test_a_linear_array_answers_on_its_front_and_says_it_is_ambiguous(speech):
    geometry = ArrayGeometry.from_flat(ACROSS)
    assert geometry.rank == 1
    finder = DirectionFinder(geometry)
    feed(finder, with_mic_noise(place(speech, geometry, 150), 20))  # behind, on the left: the front mirror is 30°
    found = finder.estimate(0, len(speech))
    assert found.ambiguous
    assert angle_error(found.azimuth, 30) <= 8


def test_a_three_dimensional_array_finds_elevation(speech):
    geometry = ArrayGeometry.from_flat([*SQUARE, 0, 0, 0.05])
    assert geometry.rank == 3
    finder = DirectionFinder(geometry)
    feed(finder, with_mic_noise(place(speech, geometry, 60, 30), 20))
    found = finder.estimate(0, len(speech))
    assert angle_error(found.azimuth, 60) <= 6
    assert np.degrees(found.elevation) == pytest.approx(30, abs=10)


def test_the_robots_own_voice_does_not_pull_the_direction(speech, other_speech):
    """The robot's echo arrives from its speaker (behind the array here), louder than the talker, in the frames the
    canceller flagged as the robot speaking; only the talker's other frames decide."""
    geometry = ArrayGeometry.from_flat(SQUARE)
    n = min(len(speech), len(other_speech))
    talker = place(speech[:n], geometry, 40)
    robot = np.zeros_like(talker)
    half = n // 2
    robot[:half] = 3 * place(other_speech[:half], geometry, 180)
    mic = with_mic_noise(talker + robot, 25)
    speaking = np.zeros(n, bool)
    speaking[:half] = True

    flagged = DirectionFinder(geometry)
    feed(flagged, mic, speaking)
    found = flagged.estimate(0, n)
    assert angle_error(found.azimuth, 40) <= 5 and not found.robot_speaking

    unflagged = DirectionFinder(geometry)  # the same audio, nothing flagged: the louder echo wins
    feed(unflagged, mic)
    assert angle_error(unflagged.estimate(0, n).azimuth, 180) <= 10


def test_a_turn_is_read_from_its_own_samples_only(speech, other_speech):
    geometry = ArrayGeometry.from_flat(SQUARE)
    first, second = place(speech, geometry, -70), place(other_speech, geometry, 100)
    finder = DirectionFinder(geometry)
    feed(finder, with_mic_noise(np.concatenate([first, second]), 20))
    assert angle_error(finder.estimate(0, len(first)).azimuth, -70) <= 5
    assert angle_error(finder.estimate(len(first), len(first) + len(second)).azimuth, 100) <= 5
    assert finder.estimate(len(first) + len(second), len(first) + len(second) + SAMPLE_RATE) is None


def test_silence_gives_no_direction_and_noise_a_low_confidence():
    geometry = ArrayGeometry.from_flat(SQUARE)
    finder = DirectionFinder(geometry)
    rng = np.random.default_rng(3)
    feed(finder, rng.normal(0, 0.01, (2 * SAMPLE_RATE, 4)).astype(np.float32))
    assert finder.estimate(0, 100) is None  # too short
    found = finder.estimate(0, 2 * SAMPLE_RATE)
    assert found is None or found.confidence < 0.2


def test_the_beam_keeps_the_talker_and_averages_away_each_microphones_noise(speech):
    geometry = ArrayGeometry.from_flat(SQUARE)
    clean = place(speech, geometry, 120)
    beam = DelayAndSumBeam(geometry, np.radians(120))
    kept = beam.process(clean)
    aligned = speech[:len(speech) - beam.latency]
    out = kept[beam.latency:]
    assert np.corrcoef(out, aligned)[0, 1] > 0.99
    assert 10 * np.log10(np.mean(out ** 2) / np.mean(aligned ** 2)) == pytest.approx(0, abs=0.5)

    noise = np.random.default_rng(1).normal(0, 0.01, clean.shape).astype(np.float32)
    reduced = DelayAndSumBeam(geometry, np.radians(120)).process(noise)
    assert 10 * np.log10(np.mean(reduced ** 2) / np.mean(noise[:, 0] ** 2)) < -5  # 4 microphones: -6 dB


def test_the_beam_streams_chunk_by_chunk_as_in_one_piece(speech):
    geometry = ArrayGeometry.from_flat(SQUARE)
    multi = place(speech[:SAMPLE_RATE], geometry, 75)
    whole = DelayAndSumBeam(geometry, np.radians(75)).process(multi)
    streamed = DelayAndSumBeam(geometry, np.radians(75))
    pieces = np.concatenate([streamed.process(multi[i:i + CHUNK]) for i in range(0, len(multi), CHUNK)])
    np.testing.assert_allclose(pieces, whole, atol=1e-5)


def test_the_processor_steers_its_beam_to_each_turns_talker(speech):
    geometry = ArrayGeometry.from_flat(SQUARE)
    proc = ArrayProcessor(geometry, ArrayConfig(azimuth_deg=0))
    multi = with_mic_noise(place(speech, geometry, -100), 20)
    for i in range(0, len(multi), CHUNK):
        out = proc.process(AudioChunk(multi[i:i + CHUNK], i, 1000 + i))
        assert out.samples.shape == (len(multi[i:i + CHUNK]),) and out.first_sample_index == i
    middle = proc.direction(0, len(multi), final=False)  # a turn still going: the beam stays
    assert proc.steered == 0 and angle_error(middle.azimuth, -100) <= 5
    proc.direction(0, len(multi), final=True)
    assert proc.steered == 1 and angle_error(proc.beam.azimuth, -100) <= 5
    proc.direction(0, len(multi), final=True)  # the same talker again: the beam (and the echo path) stays
    assert proc.steered == 1

    with pytest.raises(ArrayError, match="expected"):
        proc.process(AudioChunk(np.zeros((CHUNK, 2), np.float32), len(multi), 0))


def test_the_processor_can_give_one_microphone(speech):
    geometry = ArrayGeometry.from_flat(ACROSS)
    multi = place(speech[:SAMPLE_RATE], geometry, 90)
    proc = ArrayProcessor(geometry, ArrayConfig(output="channel", channel=1))
    out = proc.process(AudioChunk(multi, 0, 0))
    np.testing.assert_array_equal(out.samples, multi[:, 1])
    with pytest.raises(ArrayError, match="channel 2 does not exist"):
        ArrayProcessor(geometry, ArrayConfig(output="channel", channel=2))
    with pytest.raises(ArrayError, match="not one of"):
        ArrayProcessor(geometry, ArrayConfig(output="loudest"))


@pytest.mark.parametrize("flat, why", [
    ([0, 0, 0, 1, 0], "x, y, z for each"),
    ([0, 0, 0], "at least 2"),
    ([0, 0, 0, 0.0001, 0, 0], "same place"),
])
def test_a_geometry_that_cannot_work_says_why(flat, why):
    with pytest.raises(ArrayError, match=why):
        ArrayGeometry.from_flat(flat)
