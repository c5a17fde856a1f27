"""The diarization error rate on hand-made cases: overlap, the optimal mapping, misses and false alarms."""

from __future__ import annotations

import pytest
from optimus_voice.tools.der import read_rttm, score

REGION = (0.0, 10.0)


def test_names_do_not_matter_only_the_mapping() -> None:
    ref = [(0, 4, "anna"), (5, 9, "bob")]
    hyp = [(0, 4, "voice_1"), (5, 9, "voice_0")]
    assert score(ref, hyp, REGION).der == 0.0


def test_parts_add_up() -> None:
    ref = [(0, 4, "a"), (2, 6, "b")]  # 2 s of overlap: 8 s of reference speech
    hyp = [(0, 6, "x"), (8, 9, "x")]  # one voice for all: misses the overlap, 1 s of false alarm
    parts = score(ref, hyp, REGION)
    assert parts.reference_s == pytest.approx(8.0)
    assert parts.missed_s == pytest.approx(2.0)
    assert parts.false_alarm_s == pytest.approx(1.0)
    assert parts.confusion_s == pytest.approx(2.0)  # x maps to a (4 s); b's 2 s outside the overlap are confused
    assert parts.der == pytest.approx(5.0 / 8.0)


def test_more_hypothesis_voices_than_reference() -> None:
    ref = [(0, 6, "a")]
    hyp = [(0, 4, "x"), (4, 6, "y")]
    parts = score(ref, hyp, REGION)
    assert parts.confusion_s == pytest.approx(2.0) and parts.missed_s == 0 and parts.false_alarm_s == 0


def test_reads_rttm_in_utf8(tmp_path) -> None:
    path = tmp_path / "r.rttm"
    path.write_text("SPEAKER m 1 1.5 2.0 <NA> <NA> MÉO069 <NA> <NA>\n", encoding="utf-8")
    assert read_rttm(path) == {"m": [(1.5, 3.5, "MÉO069")]}
