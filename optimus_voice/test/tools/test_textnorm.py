"""Text normalisation and WER, as the benchmarks compare transcripts."""




def test_wer_normalises_case_punctuation_and_numbers():
    from optimus_voice.tools.textnorm import normalize, wer

    expected = "and so my fellow americans in nineteen sixty one mister smith paid twenty five dollars"
    assert " ".join(normalize("And so, my fellow Americans: in 1961, Mr. Smith paid 25 dollars!")) == expected
    assert wer(["ask not what your country can do"], ["Ask not, what your country can do."]) == 0.0
    assert wer(["a b c d"], ["a x c"]) == 0.5  # one substitution, one deletion


def test_british_and_american_spellings_count_alike_only_when_asked():
    from optimus_voice.tools.textnorm import normalize, wer

    ref, hyp = "Stuff it into you, his belly counselled him. Go forward ten meters.", \
        "Stuff it into you, his belly counseled him. Go forward ten metres."
    assert wer([ref], [hyp]) > 0 and wer([ref], [hyp], us_spelling=True) == 0
    assert normalize("The centred colours were analysed at the theatre", us_spelling=True) == \
        ["the", "centered", "colors", "were", "analyzed", "at", "the", "theater"]
    # Words, never letter rules: "filled" and "filed" stay apart.
    assert wer(["the form was filled"], ["the form was filed"], us_spelling=True) > 0
