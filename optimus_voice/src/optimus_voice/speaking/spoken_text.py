"""Written text as it is said: what espeak-ng's reading rules (Piper reads through them) get wrong in a reply,
rewritten in words before synthesis (no rclpy).

Read as written, "7:05" is "seven zero five", "December 07" is "December zero seven", "$5.50" is "dollar five
point five zero", "**Note:**" is "asterisk asterisk note colon asterisk asterisk", and an emoji is read out by its
name ("grinning face"). The robot's own replies hold times and dates; a language model's reply may hold any of
these, though it is asked for plain words.
"""

from __future__ import annotations

import re
import unicodedata

from optimus_voice.common.numbers import number_words, ordinal_words
from optimus_voice.speaking.spoken_units import say_measures

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_MONTH_OF = {m[:3].lower(): m for m in _MONTHS} | {"sept": "September"}
_DATE = re.compile(r"\b(?P<month>" + "|".join(_MONTHS) + r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
                   r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?![:\d])")
# A clock time: h:mm, not part of a longer run of digits and colons (1:30:15 is a duration), with its a.m./p.m.
_TIME = re.compile(r"(?<![\d:.,])(?P<h>\d{1,2}):(?P<m>[0-5]\d)(?![\d:])"
                   r"(?:\s?(?P<ap>[ap])\.?\s?m\b(?P<dot>\.)?)?", re.IGNORECASE)
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
               "£": ("pound", "pounds", "penny", "pence")}
_MONEY = re.compile(r"(?P<cur>[$€£])\s?(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?![\d,]\d)"
                    r"(?:\s+(?P<scale>thousand|million|billion|trillion)\b|(?P<short>[kKmMbB]|bn|Bn)\b)?")
_SCALES = {"k": "thousand", "m": "million", "b": "billion", "bn": "billion"}  # $5k, $5m, $2bn
_DEGREES = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s?°(?:\s?(?P<unit>[CF])\b)?")
_EMOJI_MARKS = "\ufe0e\ufe0f\u20e3\u200d"  # presentation selectors, keycap, joiner
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\s]+\)")
_LIST_MARK = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)]|#{1,6})\s+")
_MARKUP = re.compile(r"\*+|`+|~~|__|^#+|(?<=\s)#+(?=\s)", re.MULTILINE)


def _time(m: re.Match) -> str:
    h, minute, ap = int(m["h"]), int(m["m"]), (m["ap"] or "").upper()
    if h > 23 or (ap and not 1 <= h <= 12):
        return m[0]
    if minute == 0:
        said = "" if ap else " o'clock" if 1 <= h <= 12 else " hundred"
    else:
        said = f" oh {number_words(minute)}" if minute < 10 else f" {number_words(minute)}"
    # Keep a full stop after "p.m." only where it also ends the sentence.
    end = "." if m["dot"] and re.match(r"\s+[A-Z]|\s*$", m.string[m.end():]) else ""
    return f"{number_words(h)}{said}" + (f" {ap}M{end}" if ap else "")


def _date(m: re.Match) -> str:
    day = int(m["day"])
    month = _MONTH_OF.get(m["month"].lower(), m["month"])
    return f"{month} {ordinal_words(day)}" if 1 <= day <= 31 else m[0]


def _money(m: re.Match) -> str:
    one, many, cent, cents = _CURRENCIES[m["cur"]]
    whole, frac = int(m["whole"].replace(",", "")), m["frac"] or ""
    scale = m["scale"] or _SCALES.get((m["short"] or "").lower(), "")
    if scale or len(frac) not in (0, 2):  # "$1.5 million": one point five million dollars
        return " ".join(p for p in (m["whole"] + ("." + frac if frac else ""), scale, many) if p)
    said = f"{m['whole']} {one if whole == 1 else many}"
    if frac and int(frac):
        said += f" and {int(frac)} {cent if int(frac) == 1 else cents}"
    return said


def _degrees(m: re.Match) -> str:
    unit = {"C": " Celsius", "F": " Fahrenheit"}.get(m["unit"] or "", "")
    return f"{m['n']} {'degree' if m['n'] == '1' else 'degrees'}{unit}"


def _lines(text: str) -> str:
    """Lines (a list, a heading) as sentences of their own, without their list marks."""
    lines = [_LIST_MARK.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        return " ".join(lines)
    return " ".join(line if line[-1] in ".!?:;," else line + "." for line in lines)


def speakable(text: str) -> str:
    """`text` rewritten as it should be said: markup and emoji dropped, clock times, dates, money, temperatures,
    units, ranges, fractions and common abbreviations in words. Text without any of them comes back as it was (but
    for runs of whitespace)."""
    text = _LINK.sub(r"\1", text)
    text = _lines(_MARKUP.sub("", text))
    text = _MONEY.sub(_money, text)
    text = _DEGREES.sub(_degrees, text)
    text = _TIME.sub(_time, text)
    text = _DATE.sub(_date, text)
    text = say_measures(text)
    # Emoji and other pictographs, read by their names otherwise; letters, digits and punctuation stay.
    text = "".join(c for c in text if unicodedata.category(c) not in ("So", "Sk") and c not in _EMOJI_MARKS)
    return " ".join(text.split())
