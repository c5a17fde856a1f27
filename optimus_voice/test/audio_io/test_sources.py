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


def test_a_microphone_arrays_channels_come_through_files_and_bags(tmp_path, data_dir):
    import soundfile as sf
    from helpers import place
    from optimus_voice.audio_io import bags
    from optimus_voice.audio_io.sources import FileSource
    from optimus_voice.contract import topics

    multi = place(load_audio(data_dir / "jfk.wav")[:16000], [0.0, 0.04, 0.0, 0.0, -0.04, 0.0, 0.04, 0.0, 0.0], 30)
    sf.write(tmp_path / "array.wav", multi, 16000, subtype="FLOAT")
    chunks = list(FileSource(tmp_path / "array.wav", realtime=False, gap_s=0.0, channels=3).chunks())
    assert chunks[0].samples.shape == (320, 3)
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), multi)
    with pytest.raises(SourceError, match="has 3 channel"):
        FileSource(tmp_path / "array.wav", channels=4)

    with bags.BagWriter(tmp_path / "bag") as writer:
        for i in range(0, len(multi), 320):
            writer.write(topics.AUDIO_ARRAY.name, bags.audio_frame(multi[i:i + 320], i, i * 62500), i * 62500)
    replayed = np.concatenate([c.samples for c in BagSource(tmp_path / "bag", realtime=False, channels=3).chunks()])
    np.testing.assert_allclose(replayed, multi, atol=1 / 32768)
    with pytest.raises(SourceError, match="have 3 channel"):
        list(BagSource(tmp_path / "bag", realtime=False, channels=2).chunks())
