"""Text normalisation and WER, as the benchmarks compare transcripts."""




def test_wer_normalises_case_punctuation_and_numbers():
    from optimus_voice.tools.textnorm import normalize, wer

    expected = "and so my fellow americans in nineteen sixty one mister smith paid twenty five dollars"
    assert " ".join(normalize("And so, my fellow Americans: in 1961, Mr. Smith paid 25 dollars!")) == expected
    assert wer(["ask not what your country can do"], ["Ask not, what your country can do."]) == 0.0
    assert wer(["a b c d"], ["a x c"]) == 0.5  # one substitution, one deletion
