"""Microphone sources: files, bags and their errors."""

import numpy as np
import pytest
from optimus_voice.audio_io.sources import BagSource, SourceError, load_audio
from optimus_voice.contract.audio import to_s16le


def test_unreadable_audio_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    with pytest.raises(SourceError, match="cannot read audio file"):
        load_audio(bad)


def test_bag_source_yields_every_sample_in_order(speech_bag, bag_samples):
    source = BagSource(speech_bag, realtime=False)
    chunks = list(source.chunks())
    assert [c.first_sample_index for c in chunks] == list(np.cumsum([0] + [len(c.samples) for c in chunks[:-1]]))
    got = np.frombuffer(to_s16le(np.concatenate([c.samples for c in chunks])), dtype="<i2")
    np.testing.assert_array_equal(got, bag_samples)


def test_bag_source_reports_missing_and_empty_bags(tmp_path, speech_bag):
    with pytest.raises(SourceError, match="does not exist"):
        BagSource(tmp_path / "nope")
    with pytest.raises(SourceError, match="no messages on /other"):
        BagSource(speech_bag, topic="/other")
    (tmp_path / "junk").mkdir()
    with pytest.raises(SourceError, match="cannot open bag"):
        BagSource(tmp_path / "junk")
