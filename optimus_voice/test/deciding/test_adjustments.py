"""Reading how the user wants the robot to speak: the way from the words (not from embeddings, which put antonyms
together), complaints turned around, how much, and volume levels."""

import pytest
from optimus_voice.deciding.adjustments import family_in, read


@pytest.mark.parametrize("text, family, intent", [
    ("speak more quietly", "volume", "softer"),      # was read as louder ("quietly" taken for a complaint)
    ("you speak so quietly", "volume", "louder"),
    ("you're too loud", "volume", "softer"),
    ("it's not loud enough", "volume", "louder"),
    ("don't shout", "volume", "softer"),
    ("I can't hear you", "volume", "louder"),
    ("turn it down", "volume", "softer"),
    ("slow down please", "rate", "slower"),
    ("you're slow", "rate", "faster"),
    ("not so fast", "rate", "slower"),
    ("could you talk slowly", "rate", "slower"),
])
def test_the_way_comes_from_the_words(text, family, intent):
    assert read(text, family).intent == intent


def test_how_much_and_volume_levels():
    assert read("a bit louder", "volume").amount == 0.5
    assert read("much louder please", "volume").amount == 2.0
    assert read("louder", "volume").amount == 1.0
    level = read("set the volume to seven", "volume")
    assert (level.intent, level.amount) == ("volume_set", 7.0)
    assert read("volume 12", "volume").amount == 10.0  # held to the scale
    assert read("what time is it", "volume") is None


def test_the_family_is_only_taken_from_clear_words():
    assert family_in("stop yelling") == "volume" and family_in("please talk quietly") == "volume"
    assert family_in("you're really quiet") == "volume"   # a weak word, said of the robot
    assert family_in("be quiet") is None and family_in("hurry up") is None  # "stop talking", not the volume
    assert family_in("what is the speed of light") is None
    assert family_in("louder and slower") is None  # both: the matcher decides
