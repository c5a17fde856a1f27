"""Device stamps from the sample count, anchored at the least late callback: PulseAudio's callbacks come in a
sawtooth up to 20 ms late, and the stamps must not carry it into the echo canceller's alignment."""

import numpy as np
from optimus_voice.audio_io.sample_clock import SampleClock

MS = 1_000_000


def test_late_callbacks_do_not_move_the_stamps_and_a_drift_is_followed():
    clock = SampleClock(16000, window_s=2.0)
    rng = np.random.default_rng(0)
    offsets = []
    for k in range(500):  # 10 s of 20 ms buffers, each 0-20 ms late, the device's clock 1000 ppm slow
        index = 320 * k
        true_ns = 5_000 * MS + index * 62_500 + (k * 20 * MS) // 1000
        offsets.append(clock.offset(true_ns + int(rng.uniform(0, 20)) * MS, index))
    steady = np.array(offsets[100:]) - 5_000 * MS
    drift = np.array([(k * 20 * MS) // 1000 for k in range(100, 500)])
    # Within a couple of ms of the true placement, though each arrival is up to 20 ms late, and the 1000 ppm
    # drift (10 ms over the 10 s) is followed within the 2 s window.
    assert np.all(steady - drift <= 1 * MS)
    assert np.all(steady - drift >= -3 * MS)
