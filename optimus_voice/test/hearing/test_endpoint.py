"""Endpointing reads whether the words so far make a finished sentence."""




def test_endpoint_reads_whether_a_sentence_is_complete():
    from optimus_voice.hearing.endpoint import sounds_complete

    for text in ["What did he look like?", "Thank you.", "Where are you from?", "Stop!", "I like it."]:
        assert sounds_complete(text), text
    for text in ["", "I went to the park and.", "So, um.", "Ask not what your country can do for you,",
                 "I was thinking...", "It was the", "Tell me about your"]:
        assert not sounds_complete(text), text
