"""Echo cancellation on the robot's real voice (Piper) coming back through a simulated room, with a real talker."""

import numpy as np
import pytest
from helpers import steady_voice
from optimus_voice.audio_io import echo_path
from optimus_voice.audio_io.correlation import gcc_phat
from optimus_voice.audio_io.echo import EchoCanceller, EchoConfig, EchoError, ReferenceTimeline
from optimus_voice.audio_io.echo_path import EchoPathError
from optimus_voice.audio_io.sources import AudioChunk, load_audio
from optimus_voice.contract.audio import SAMPLE_RATE
from optimus_voice.tools.room import Room, convolve, speech_rms

BASE = 10 ** 15  # stamps of the test's clock


@pytest.fixture(scope="module")
def robot_voice():
    # The same voice every run: with Piper's noise, one run in twenty marked too little double talk.
    return steady_voice("I can tell you about the weather, set a timer, or just keep you company. The kitchen is at "
                        "the end of the hallway, on your left. Your next meeting starts in twenty minutes, in the "
                        "blue room.")[0]


def run_through(aec: EchoCanceller, mic: np.ndarray, played: np.ndarray, ref_offset_ns: int = 0,
                words: np.ndarray | None = None) -> np.ndarray:
    """Feed the canceller as the capture node does: the speaker's audio by stamps, the microphone in 20 ms chunks.
    The output; `words`, if given, is filled with the audio the recognizer reads the words from."""
    out = np.zeros_like(mic)
    for i in range(0, len(mic) - 319, 320):
        stamp = BASE + i * 10 ** 9 // SAMPLE_RATE
        aec.reference(played[i:i + 320], stamp + ref_offset_ns)
        for chunk in aec.process(AudioChunk(mic[i:i + 320], i, stamp)):
            span = slice(chunk.first_sample_index, chunk.first_sample_index + len(chunk.samples))
            out[span] = chunk.samples
            if words is not None:
                words[span] = chunk.samples if chunk.words is None else chunk.words
    return out


def erle_db(mic: np.ndarray, out: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(mic ** 2) / np.mean(out ** 2)))


def test_robot_voice_is_removed_once_the_filter_has_converged(robot_voice):
    echo = convolve(robot_voice, Room(delay_ms=30).impulse_response()) * 0.5
    aec = EchoCanceller()
    out = run_through(aec, echo, robot_voice)
    last = slice(len(echo) - 4 * SAMPLE_RATE, len(echo))
    assert erle_db(echo[last], out[last]) > 25
    assert aec.stats.erle_db is not None and aec.stats.erle_db > 15
    assert aec.stats.delay_ms == pytest.approx(30, abs=3)  # GCC-PHAT finds the room's delay
    assert 0 < aec.stats.cpu_ms_per_s < 200
    assert aec.stats.late_reference_s == 0


def test_a_canceller_that_starts_from_the_path_it_learnt_removes_the_robot_voice_from_its_first_words(
        robot_voice, tmp_path):
    """The next start-up with the echo path kept on disk: the first second is cancelled, where a canceller that
    starts from nothing lets it through; it is still not trusted as converged before it has measured it."""
    room = Room(delay_ms=30)
    echo = convolve(robot_voice, room.impulse_response()) * 0.5
    first = EchoCanceller()
    run_through(first, echo, robot_voice)
    file = tmp_path / "echo_path.npz"
    echo_path.save(first.learnt_path(), file)

    again = EchoCanceller()
    again.start_from(echo_path.load(file))
    assert again.stats.started_from_path and not again.stats.converged
    cold = EchoCanceller()
    second = slice(0, SAMPLE_RATE)
    warm_out, cold_out = run_through(again, echo, robot_voice), run_through(cold, echo, robot_voice)
    assert erle_db(echo[second], warm_out[second]) > 15
    assert erle_db(echo[second], cold_out[second]) < 10


def test_the_keeper_saves_a_converged_path_now_and_then_and_restores_it(robot_voice, tmp_path):
    keeper = echo_path.EchoPathKeeper(tmp_path / "optimus_voice" / "echo_path.npz", every_s=30.0)
    aec = EchoCanceller()
    assert not keeper.restore(aec) and not aec.stats.started_from_path  # nothing kept yet: from nothing
    assert not keeper.tick(aec, 0.0)  # nothing learnt yet: the last file, if any, stays
    run_through(aec, convolve(robot_voice, Room(delay_ms=30).impulse_response()) * 0.5, robot_voice)
    assert keeper.tick(aec, 100.0) and keeper.file.exists()
    assert not keeper.tick(aec, 110.0) and keeper.tick(aec, 130.0)
    assert keeper.save(aec, 131.0) and keeper.saves == 3  # at the end, whenever it was last saved
    keeper.file.unlink()
    keeper.file.mkdir()  # a file that cannot be written: an error, tried again only in every_s
    with pytest.raises(OSError):
        keeper.tick(aec, 200.0)
    assert not keeper.tick(aec, 201.0)
    keeper.file.rmdir()
    keeper.save(aec, 202.0)
    again = EchoCanceller()
    assert keeper.restore(again) and again.stats.started_from_path


def test_a_path_kept_from_another_room_is_learnt_anew(robot_voice):
    """The robot moved, or its speaker did: the path it kept is wrong, and the canceller learns the new one as well
    as it would from nothing."""
    first = EchoCanceller()
    run_through(first, convolve(robot_voice, Room(delay_ms=30).impulse_response()) * 0.5, robot_voice)
    elsewhere = convolve(robot_voice, Room(delay_ms=60, rt60_s=0.5, seed=5).impulse_response()) * 0.8
    moved, cold = EchoCanceller(), EchoCanceller()
    moved.start_from(first.learnt_path())
    last = slice(len(elsewhere) - 4 * SAMPLE_RATE, len(elsewhere))
    moved_db = erle_db(elsewhere[last], run_through(moved, elsewhere, robot_voice)[last])
    cold_db = erle_db(elsewhere[last], run_through(cold, elsewhere, robot_voice)[last])
    assert moved_db > 20 and moved_db > cold_db - 3, (moved_db, cold_db)
    assert moved.stats.converged


def test_a_kept_path_that_does_not_fit_is_a_clear_error(tmp_path):
    bad = tmp_path / "echo_path.npz"
    bad.write_bytes(b"not a filter")
    with pytest.raises(EchoPathError, match="cannot read"):
        echo_path.load(bad)
    short = EchoCanceller(EchoConfig(filter_ms=120.0))
    long = EchoCanceller(EchoConfig(filter_ms=240.0))
    kept = echo_path.EchoPath(np.zeros((12, 161), np.complex128), 160, 0.0, 20.0)
    echo_path.save(kept, tmp_path / "kept.npz")
    short.start_from(echo_path.load(tmp_path / "kept.npz"))
    with pytest.raises(EchoPathError, match="not 24 of 160"):
        long.start_from(echo_path.load(tmp_path / "kept.npz"))
    assert EchoCanceller().learnt_path() is None  # nothing learnt, nothing to keep


def test_the_robot_voice_reported_after_its_moment_is_counted_late(robot_voice):
    # A speaker (or a transport) that tells the canceller what it played a second after it was heard: that second
    # of the microphone has gone through uncancelled, and /diagnostics must say why.
    echo = convolve(robot_voice, Room(delay_ms=30).impulse_response()) * 0.5
    aec = EchoCanceller()
    lag = SAMPLE_RATE
    out = np.zeros_like(echo)
    for i in range(0, len(echo) - 319, 320):
        stamp = BASE + i * 10 ** 9 // SAMPLE_RATE
        if i >= lag:
            aec.reference(robot_voice[i - lag:i - lag + 320], stamp - 10 ** 9)
        for chunk in aec.process(AudioChunk(echo[i:i + 320], i, stamp)):
            out[chunk.first_sample_index:chunk.first_sample_index + len(chunk.samples)] = chunk.samples
    assert erle_db(echo, out) < 1
    # All of it but the first piece, which places the microphone anew (see the module's docstring).
    assert aec.stats.late_reference_s == pytest.approx((len(echo) - lag) / SAMPLE_RATE, abs=0.05)


def test_a_path_changed_on_purpose_is_learnt_again_before_the_canceller_trusts_it(robot_voice):
    """A beam that turns changes the echo path at once: the canceller stops calling itself converged (the dialogue
    then needs more than 150 ms of speech to stop the robot) until it measures the new path's echo removed."""
    half = len(robot_voice) // 2
    before = convolve(robot_voice, Room(delay_ms=30).impulse_response()) * 0.5
    after = convolve(robot_voice, Room(delay_ms=30, seed=7).impulse_response()) * 0.8
    aec = EchoCanceller()
    converged = []

    def watch(mic, played):
        out = np.zeros_like(mic)
        for i in range(0, len(mic) - 319, 320):
            stamp = BASE + i * 10 ** 9 // SAMPLE_RATE
            if i == half // 320 * 320:
                aec.path_changed()
            aec.reference(played[i:i + 320], stamp)
            for chunk in aec.process(AudioChunk(mic[i:i + 320], i, stamp)):
                out[chunk.first_sample_index:chunk.first_sample_index + len(chunk.samples)] = chunk.samples
            converged.append(aec.stats.converged)
        return out

    mic = np.concatenate([before[:half], after[half:]])
    out = watch(mic, robot_voice)
    turn = half // 320
    assert converged[turn - 1] and not converged[turn]
    assert not any(converged[turn:turn + 2 * SAMPLE_RATE // 320])  # at least 2 s of the new path first
    assert converged[-1]
    last = slice(len(mic) - 2 * SAMPLE_RATE, len(mic))
    assert erle_db(mic[last], out[last]) > 15


def test_an_echo_path_that_changes_by_itself_is_learnt_anew(robot_voice):
    """Nobody says the path changed (the speaker's volume went up, the head turned): a second of what looks like
    double talk, whose loudness follows the robot's voice, is taken for it, and the filter learns the new path."""
    half = len(robot_voice) // 2
    before = convolve(robot_voice, Room(delay_ms=30).impulse_response()) * 0.5
    after = convolve(robot_voice, Room(delay_ms=30, seed=7).impulse_response()) * 0.8
    mic = np.concatenate([before[:half], after[half:]])
    aec = EchoCanceller()
    out = run_through(aec, mic, robot_voice)
    assert aec.stats.path_changes >= 1
    last = slice(len(mic) - 2 * SAMPLE_RATE, len(mic))
    assert erle_db(mic[last], out[last]) > 15


def talking_over(robot_voice: np.ndarray, data_dir, user_s: float, clip: str = "jfk.wav"):
    """JFK (or `clip`) talking over the robot's echo for `user_s`, the robot 6 dB louder, ending 1 s before the
    robot does: (the user's voice, the echo, the user placed on the echo's timeline, where they start)."""
    user = load_audio(data_dir / clip)[:int(user_s * SAMPLE_RATE)]
    echo = convolve(robot_voice, Room().impulse_response())
    echo *= speech_rms(user) * 10 ** (6 / 20) / speech_rms(echo)
    at = len(robot_voice) - len(user) - SAMPLE_RATE
    near = np.zeros_like(echo)
    near[at:at + len(user)] = user
    return user, echo, near, at


def test_a_user_talking_over_the_robot_keeps_their_words(robot_voice, data_dir, asr_parts):
    from optimus_voice.tools.textnorm import wer

    _, recognizer = asr_parts
    user, echo, near, at = talking_over(robot_voice, data_dir, 4.0)
    out = run_through(EchoCanceller(), echo + near, robot_voice)
    span = slice(at - SAMPLE_RATE // 4, at + len(user) + SAMPLE_RATE // 4)
    reference = "And so my fellow Americans ask not what your"
    alone = recognizer.transcribe(near[span], word_timestamps=False).text
    cancelled = recognizer.transcribe(out[span], word_timestamps=False).text
    uncancelled = recognizer.transcribe((echo + near)[span], word_timestamps=False).text
    assert wer([reference], [cancelled]) <= wer([reference], [alone]) + 0.25, cancelled
    assert wer([reference], [cancelled]) < wer([reference], [uncancelled]), (cancelled, uncancelled)


def quiet_user_over_echo(robot_voice: np.ndarray, data_dir, under_db: float, cfg: EchoConfig):
    """JFK `under_db` below the robot's echo for 2 s, through a canceller with `cfg`: (the share of the user's 10 ms
    blocks of speech lost in the output, under a tenth of their energy; the echo; the output; where the user starts;
    the share lost in the audio for the words; that audio)."""
    user, echo, near, at = talking_over(robot_voice, data_dir, 2.0)
    echo *= 10 ** ((under_db - 6) / 20)  # talking_over puts the echo 6 dB over the user
    blocks = user[:len(user) // 160 * 160].reshape(-1, 160)
    user_e = np.mean(blocks ** 2, axis=1)
    speech = user_e > 1e-3 * user_e.max()
    words = np.zeros_like(echo)
    out = run_through(EchoCanceller(cfg), echo + near, robot_voice, words=words)

    def lost(x: np.ndarray) -> float:
        x_e = np.mean(x[at:at + blocks.size].reshape(-1, 160) ** 2, axis=1)
        return float(np.mean(x_e[speech] < 0.1 * user_e[speech]))

    return lost(out), echo, out, at, lost(words), words


def test_a_quiet_user_over_a_well_cancelled_echo_is_not_gated(robot_voice, data_dir):
    """A user 20 dB below the robot's echo: once the filter removes far more than that, the residual gate's
    threshold has come down with the residual it expects, and their voice passes; a fixed -15 dB gate takes much of
    it for the echo's leftover and attenuates it by 20 dB."""
    cut = {floor: quiet_user_over_echo(robot_voice, data_dir, 20.0, EchoConfig(residual_floor_db=floor))[0]
           for floor in (-15.0, -25.0)}
    assert cut[-25.0] < 0.2, cut
    assert cut[-15.0] > 2 * cut[-25.0], cut


def test_a_user_talking_over_the_robot_for_seconds_is_not_a_changed_echo_path(robot_voice, data_dir):
    """Long double talk alone is no path change: learning anew on the user's voice would lose the room's echo
    (the duplex bench lost its canceller that way, and the robot then stopped for its own voice)."""
    # This reader hardly pauses: well over a second of double talk in a row (the old rule's path change).
    user, echo, near, at = talking_over(robot_voice, data_dir, 6.0, "librivox_ill_disposed.wav")
    aec = EchoCanceller()
    out = run_through(aec, echo + near, robot_voice)
    assert aec.stats.path_changes == 0 and aec.stats.converged
    after = slice(at + len(user) + SAMPLE_RATE // 10, len(robot_voice) - SAMPLE_RATE // 10)
    assert erle_db(echo[after], out[after]) > 20  # the robot alone again: its echo is still removed


def test_double_talk_is_marked_where_the_user_talks_over_the_robot_and_not_on_its_voice_alone(robot_voice, data_dir):
    """The share of double talk on each chunk is what lets the dialogue stop the robot at the user's first words."""
    user, echo, near, at = talking_over(robot_voice, data_dir, 3.0)
    aec = EchoCanceller()
    marks, converged = np.zeros(len(echo) // 320), np.zeros(len(echo) // 320, bool)
    for i in range(0, len(echo) - 319, 320):
        stamp = BASE + i * 10 ** 9 // SAMPLE_RATE
        aec.reference(robot_voice[i:i + 320], stamp)
        for chunk in aec.process(AudioChunk((echo + near)[i:i + 320], i, stamp)):
            assert 0.0 <= chunk.double_talk <= 1.0
            marks[chunk.first_sample_index // 320] = chunk.double_talk
        converged[i // 320] = aec.stats.converged

    def loud(x: np.ndarray, i: int, level: float) -> bool:
        return float(np.sqrt(np.mean(x[i * 320:(i + 1) * 320] ** 2))) > level

    # The user talks, and so does the robot (in its pauses there is no double talk to hear), in the first second:
    # what a barge-in is decided on. A second of double talk in a row is what the canceller takes for a changed
    # echo path (it learns anew), and in the product the robot has stopped long before.
    talking = np.array([loud(near, i, 0.3 * speech_rms(user)) and loud(robot_voice, i, 0.1 * speech_rms(robot_voice))
                        and i * 320 < at + SAMPLE_RATE for i in range(len(marks))])
    converged_from = 3 * SAMPLE_RATE // 320  # the robot alone for 3 s first: the filter has learnt the room
    robot_alone = np.array([not loud(near, i, 1e-4) for i in range(len(marks))]) & converged
    robot_alone[:converged_from] = False
    robot_alone[at // 320 - 10:] = False
    # Piper's voice differs from run to run: 0.5-1.0 of the user's chunks measured, 0.00-0.03 of the robot's.
    assert marks[talking].mean() > 0.4
    assert marks[robot_alone].mean() < 0.05


def test_without_the_robot_speaking_the_microphone_passes_unchanged(data_dir):
    user = load_audio(data_dir / "cv_concourse.wav")
    aec = EchoCanceller()
    out = run_through(aec, user, np.zeros_like(user))
    n = len(user) // 320 * 320
    np.testing.assert_allclose(out[:n], user[:n], atol=1e-6)
    assert aec.stats.erle_db is None and not aec.stats.reference_active


def test_a_delay_longer_than_the_filter_is_measured_and_followed(robot_voice):
    """A sound server's buffers can hold the robot's voice back by more than the filter spans."""
    echo = convolve(robot_voice, Room(delay_ms=350).impulse_response()) * 0.5
    aec = EchoCanceller()
    out = run_through(aec, echo, robot_voice)
    last = slice(len(echo) - 4 * SAMPLE_RATE, len(echo))
    assert erle_db(echo[last], out[last]) > 20
    assert aec.stats.delay_shifts >= 1
    assert aec.stats.delay_ms == pytest.approx(350, abs=5)  # the whole delay, though the reference was moved


def test_output_is_the_input_chunks_across_a_gap_and_a_flush():
    """Chunks come out as they went in (indices, lengths, stamps): a chunk that is not whole 10 ms blocks waits
    for the rest of its block, a gap or the end of the stream flushes it, and no sample is lost."""
    aec = EchoCanceller()
    got = []
    for index, n in ((0, 320), (320, 250), (570, 250), (820, 100), (5000, 320), (5320, 90)):
        samples = np.full(n, 0.01, np.float32)
        got.append([(c.first_sample_index, len(c.samples), c.stamp_ns) for c in
                    aec.process(AudioChunk(samples, index, BASE + index * 62_500))])
    got.append([(c.first_sample_index, len(c.samples), c.stamp_ns) for c in aec.flush()])
    at = [BASE + i * 62_500 for i in (0, 320, 570, 820, 5000, 5320)]
    assert got == [[(0, 320, at[0])], [], [(320, 250, at[1])],  # 570..820 waits for its last block
                   [],  # and so does 820..920; then 4080 samples are missing
                   [(570, 250, at[2]), (820, 100, at[3]), (5000, 320, at[4])], [], [(5320, 90, at[5])]]
    assert aec.flush() == []


def test_reference_timeline_places_audio_by_stamp():
    t = ReferenceTimeline()
    t.position(0)
    t.put(10 ** 9 // 100, np.ones(160, np.float32))  # 10 ms in: samples 160..320
    got = t.take(100, 300)
    assert got[:60].sum() == 0 and got[60:220].sum() == 160 and got[220:].sum() == 0


def test_gcc_phat_finds_a_fractional_delay(data_dir):
    speech = load_audio(data_dir / "jfk.wav")[:SAMPLE_RATE]
    spectrum = np.fft.rfft(speech)
    delayed = np.fft.irfft(spectrum * np.exp(-2j * np.pi * np.fft.rfftfreq(len(speech)) * 3.4), len(speech))
    lag, sharpness = gcc_phat(delayed, speech, 20, interp=8)
    assert lag == pytest.approx(3.4, abs=0.2) and sharpness > 8


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(EchoError, match="unknown echo cancellation mode 'loud'"):
        EchoCanceller(EchoConfig(mode="loud"))


def test_a_voice_far_above_the_residual_holds_the_gate_open_and_the_robot_alone_stays_gated(robot_voice, data_dir):
    """A user 30 dB under the robot's echo is under the gate's lowest threshold (-25 dB), yet far above the residual
    a converged filter leaves: with gate_open_on_double_talk fewer of their 10 ms blocks are lost, and the robot's
    voice alone is removed as well as before."""
    lost, removed = {}, {}
    for held in (False, True):
        lost[held], echo, out, at, *_ = quiet_user_over_echo(robot_voice, data_dir, 30.0,
                                                             EchoConfig(gate_open_on_double_talk=held))
        robot_alone = slice(SAMPLE_RATE, at - SAMPLE_RATE // 10)
        removed[held] = erle_db(echo[robot_alone], out[robot_alone])
    assert lost[True] < 0.75 * lost[False], lost
    assert removed[True] > removed[False] - 1.0, removed


def test_the_words_are_read_before_the_gate_once_the_filter_has_converged(robot_voice, data_dir):
    """A user 30 dB under the robot's echo is under the gate's lowest threshold: the gated audio (the VAD's) loses
    many of their 10 ms blocks, the audio for the words (ungated_words) far fewer. With the robot alone that audio
    still holds little of its echo, and until the filter removes as much as the gate's floor assumes it is the
    gated audio."""
    lost, echo, out, at, lost_words, words = quiet_user_over_echo(robot_voice, data_dir, 30.0,
                                                                  EchoConfig(ungated_words=True))
    assert lost_words < 0.5 * lost, (lost, lost_words)
    ungated = int(np.flatnonzero(words != out)[0])
    assert SAMPLE_RATE < ungated < at - SAMPLE_RATE // 5, ungated  # not young, and before the user
    robot_alone = slice(ungated, at - SAMPLE_RATE // 10)
    assert erle_db(echo[robot_alone], words[robot_alone]) > 30.0
    _, _, plain, _, lost_plain, _ = quiet_user_over_echo(robot_voice, data_dir, 30.0, EchoConfig())
    assert lost_plain == lost and np.array_equal(plain, out)  # the gated audio is the same either way


def test_a_canceller_from_nothing_is_learning_until_it_has_stayed_converged_ten_seconds(robot_voice, tmp_path):
    """stats.learning (the capture node's /audio/in/echo_learning): true from nothing until the canceller has been
    converged for LEARNT_S of the robot's voice; false at once from a kept echo path."""
    from optimus_voice.audio_io.echo import LEARNT_S

    voice = np.concatenate([robot_voice] * 3)
    echo = convolve(voice, Room(delay_ms=30).impulse_response()) * 0.5
    aec = EchoCanceller()
    learning, converged_at, learnt_at = [], None, None
    for i in range(0, len(echo) - 319, 320):
        stamp = BASE + i * 10 ** 9 // SAMPLE_RATE
        aec.reference(voice[i:i + 320], stamp)
        aec.process(AudioChunk(echo[i:i + 320], i, stamp))
        learning.append(aec.stats.learning)
        if converged_at is None and aec.stats.converged:
            converged_at = i / SAMPLE_RATE
        if learnt_at is None and not aec.stats.learning:
            learnt_at = i / SAMPLE_RATE
    assert converged_at is not None and learnt_at is not None
    # the robot speaks all along here (but for the gaps between sentences), so about LEARNT_S later
    assert LEARNT_S <= learnt_at - converged_at < LEARNT_S + 3
    assert learning == sorted(learning, reverse=True)  # once learnt, it stays so
    kept = tmp_path / "echo_path.npz"
    echo_path.EchoPathKeeper(kept).save(aec, 0.0)
    again = EchoCanceller()
    assert echo_path.EchoPathKeeper(kept).restore(again) and not again.stats.learning
