"""The speaker's player without DDS: real speech played in order into a WAV at the speaker's pace, reported turn by
turn, flushed on a stop or a newer turn."""

import threading
import time

import numpy as np
import soundfile as sf
from optimus_voice.audio_io.player import DRAINED, FLUSHED, PLAYING, Player
from optimus_voice.audio_io.sinks import WavSink
from optimus_voice.audio_io.sources import load_audio
from optimus_voice.contract.audio import to_s16le

FRAME = 640


class Reports:
    def __init__(self) -> None:
        self.items = []
        self.cv = threading.Condition()

    def __call__(self, status) -> None:
        with self.cv:
            self.items.append((time.monotonic(), status))
            self.cv.notify_all()

    def wait(self, predicate, timeout_s=10.0) -> bool:
        with self.cv:
            return self.cv.wait_for(lambda: any(predicate(s) for _, s in self.items), timeout_s)

    def of(self, turn):
        return [s for _, s in self.items if s.turn_id == turn]


def test_plays_at_the_speakers_pace_reports_and_flushes(tmp_path, data_dir):
    speech = load_audio(data_dir / "cv_concourse.wav")
    reports = Reports()
    wav = tmp_path / "out.wav"
    player = Player([WavSink(wav, 16000)], 16000, reports, status_period_s=0.1)
    t0 = time.monotonic()
    for i in range(0, len(speech), FRAME):
        assert player.add(1, speech[i:i + FRAME])
    assert reports.wait(lambda s: s.turn_id == 1 and s.state == DRAINED, 15)
    elapsed = time.monotonic() - t0
    turn1 = reports.of(1)
    # Paced like a speaker: the last report comes about when the audio would have finished playing.
    assert elapsed > 0.8 * len(speech) / 16000
    assert [s.state for s in turn1[:-1]] == [PLAYING] * (len(turn1) - 1) and len(turn1) > 2
    played = [s.samples_played for s in turn1]
    assert played == sorted(played) and played[-1] == len(speech) and turn1[-1].samples_queued == 0

    # Turn 2 is stopped after half a second: flushed, and the WAV holds what was played and no more.
    for i in range(0, len(speech), FRAME):
        player.add(2, speech[i:i + FRAME])
    assert reports.wait(lambda s: s.turn_id == 2 and s.samples_played >= 8000)
    player.flush()
    assert reports.of(2)[-1].state == FLUSHED
    # A newer turn flushes what an older one still had queued; an older turn's audio is dropped.
    for _ in range(0, 16000, FRAME):
        player.add(3, np.zeros(FRAME, np.float32))
    assert player.add(4, np.zeros(FRAME, np.float32))
    assert reports.wait(lambda s: s.turn_id == 3 and s.state == FLUSHED)
    assert not player.add(3, np.zeros(FRAME, np.float32))
    assert reports.wait(lambda s: s.turn_id == 4 and s.state == DRAINED)
    player.close()
    written = sf.read(str(wav), dtype="int16")[0]
    np.testing.assert_array_equal(written[:len(speech)], np.frombuffer(to_s16le(speech), dtype="<i2"))
    # What was played of turns 2 and 3 (the frame in hand when they were flushed included) and all of turn 4.
    played_2, played_3 = (max(s.samples_played for s in reports.of(turn)) for turn in (2, 3))
    assert 8000 <= played_2 < len(speech)
    assert len(written) == len(speech) + played_2 + played_3 + FRAME
