"""Numbers as words, the way they are read aloud: for comparing transcripts and for what the robot says."""

from __future__ import annotations

import re

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL_ENDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                 "nine": "ninth", "twelve": "twelfth"}


def number_words(n: int) -> str:
    """Cardinal number in words (0 <= n < 10**9), as read aloud."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in ((10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            return f"{number_words(head)} {name}" + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """Ordinal number in words (1 -> "first", 22 -> "twenty second", 30 -> "thirtieth")."""
    *head, last = number_words(n).split()
    if last in _ORDINAL_ENDS:
        last = _ORDINAL_ENDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def _year_or_number(digits: str) -> str:
    n = int(digits)
    if len(digits) == 4 and 1100 <= n <= 2099 and n % 100 != 0 and not 2000 <= n <= 2009:
        return f"{number_words(n // 100)} {number_words(n % 100)}"  # 1961 -> nineteen sixty one
    return number_words(n) if n < 10**9 else digits


def digits_as_words(text: str) -> str:
    """Every number written in digits as it is read ("1,200" -> "one thousand two hundred", "1961" -> "nineteen
    sixty one"), so that text that writes numbers in digits and text that writes them in words compare alike."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    return re.sub(r"\d+", lambda m: f" {_year_or_number(m.group())} ", text)
