"""What the robot says for what is written: clock times, dates, money, temperatures, markup and emoji."""

import subprocess

import pytest


@pytest.mark.parametrize(("written", "said"), [
    ("It's 7:20 PM on Monday, December 7.", "It's seven twenty PM on Monday, December seventh."),
    ("Meet me at 7:00.", "Meet me at seven o'clock."),
    ("It's 12:05 a.m. now", "It's twelve oh five AM now"),
    ("At 7:05 p.m. Then dinner.", "At seven oh five PM. Then dinner."),  # the stop that ends the sentence stays
    ("At 19:00 or 19:45.", "At nineteen hundred or nineteen forty five."),
    ("Jan. 3rd, Sept 22 and December 31st", "January third, September twenty second and December thirty first"),
    ("It costs $5.50, $1 or $1,200.", "It costs 5 dollars and 50 cents, 1 dollar or 1,200 dollars."),
    ("About $1.5 million, or £3.01.", "About 1.5 million dollars, or 3 pounds and 1 penny."),
    ("It raised $5m, then €2bn and $30k.",
     "It raised 5 million dollars, then 2 billion euros and 30 thousand dollars."),
    ("It's 21°C, 70 °F.", "It's 21 degrees Celsius, 70 degrees Fahrenheit."),
    ("**Note:** the *third* item 😀👍🏽 is [here](https://example.com/a).", "Note: the third item is here."),
    ("You can:\n- buy apples\n- buy pears\n1. go home", "You can: buy apples. buy pears. go home."),
])
def test_written_forms_are_said_in_words(written, said):
    from optimus_voice.speaking.spoken_text import speakable

    assert speakable(written) == said


@pytest.mark.parametrize("text", [
    "Hello there. How are you?", "A ratio of 16:9, a run of 1:30:15, and 2:1.", "May 2024 was warm.",
    "It's 25:61 and 13:00 PM.", "Five of clubs, please!",
])
def test_text_with_nothing_to_rewrite_is_said_as_written(text):
    from optimus_voice.speaking.spoken_text import speakable

    assert speakable(text) == text


def test_espeak_reads_the_rewritten_time_and_date_as_words():
    """Read as written, espeak-ng (whose rules Piper speaks by) says "zero" for the leading zeros."""
    from optimus_voice.speaking.spoken_text import speakable

    def phonemes(text: str) -> str:
        return subprocess.run(["espeak-ng", "-q", "-x", "--stdin"], input=text, capture_output=True, text=True,
                              check=True, timeout=30).stdout

    written = "It's 7:05 PM on Monday, December 07."
    assert "z'i@roU" in phonemes(written)  # "seven zero five", "December zero seven"
    said = phonemes(speakable(written))
    assert "z'i@roU" not in said and "s'Ev@nT" in said  # "seven oh five", "December seventh"


@pytest.mark.parametrize(("written", "said"), [
    ("About 2 km, 1 m or 20 m² away.", "About 2 kilometers, 1 meter or 20 square meters away."),
    ("Add 200 g and 250 ml, at 1.5 m/s for 3 hrs.",
     "Add 200 grams and 250 milliliters, at 1.5 meters per second for 3 hours."),
    ("It's $3.99/kg, 5 W and 2 GB.", "It's 3 dollars and 99 cents per kilogram, 5 watts and 2 gigabytes."),
    ("It takes 5-10 minutes, open 9am-5pm.", "It takes 5 to 10 minutes, open 9am to 5pm."),
    ("Use 1/2 cup, then 3/4 cup, 1/2 and 12/25.", "Use half a cup, then three quarters of a cup, one half and 12/25."),
    ("It's 3x faster at 1920x1080.", "It's 3 times faster at 1920 by 1080."),
    ("In the 1990s, the 80s and the 2000s.", "In the nineteen nineties, the eighties and the two thousands."),
    ("Fruit, e.g. apples, i.e. food, etc. are here, approx. 5, etc.",
     "Fruit, for example apples, that is food, et cetera are here, approximately 5, et cetera."),
    ("Order #42 is open 24/7.", "Order number 42 is open twenty four seven."),
])
def test_measures_and_abbreviations_are_said_in_words(written, said):
    from optimus_voice.speaking.spoken_text import speakable

    assert speakable(written) == said


@pytest.mark.parametrize("text", [
    "Call 555-1234 on 2024-05-01.", "I am at 7 am, in COVID-19 times.", "The m of maybe, a g, 5 in all.",
])
def test_what_only_looks_like_a_measure_is_left(text):
    from optimus_voice.speaking.spoken_text import speakable

    assert speakable(text) == text
