"""Measures and abbreviations as said (no rclpy): units after a number, ranges, fractions, decades, "e.g.".

espeak-ng (whose rules Piper speaks by) spells most unit symbols out ("2 km" is "two kay em", "30 mph" "thirty em
pee aitch", "6 ft" "six eff tee"), reads "5-10" as "five dash ten", "1/2" as "one slash two", "1990s" as "one
thousand nine hundred and ninety s", and "i.e." letter by letter. Numbers themselves stay digits: espeak-ng reads
those well.
"""

from __future__ import annotations

import re

from optimus_voice.common.numbers import number_words

# symbol -> (singular, plural); only ever read after a number (or "per"), where the symbol cannot be a word.
_UNITS = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "mi": ("mile", "miles"), "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"), "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "l": ("liter", "liters"), "L": ("liter", "liters"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"), "m/s": ("meter per second", "meters per second"),
    "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"), "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"), "kWh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"), "mAh": ("milliamp hour", "milliamp hours"), "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"), "KB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
}
_UNIT = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
_AREA = {"²": "square", "³": "cubic"}
# A number, then its unit (an area or volume with ² or ³), not followed by more of a word.
_MEASURE = re.compile(r"(?<![\w.])(?P<n>\d[\d,]*(?:\.\d+)?)\s?(?P<unit>" + _UNIT + r")(?P<power>[²³])?(?![\w/²³])")
_PER = re.compile(r"(?:\bper\s+|(?<=\w)/)(?P<unit>" + _UNIT + r")(?![\w/])")
# 5-10, 5 – 10, 9am-5pm; not a phone number (555-1234) or a date (2024-05-01).
_RANGE = re.compile(r"(?<![\d.,-])(?P<a>\d{1,3}|(?:19|20)\d\d)(?P<ap>\s?[ap]\.?m\.?)?\s?[-–]\s?"
                    r"(?P<b>\d{1,3}|(?:19|20)\d\d)(?![\d.,]*[-–/]?\d)", re.IGNORECASE)
_FRACTIONS = {(1, 2): "half", (1, 3): "a third", (2, 3): "two thirds", (1, 4): "a quarter",
              (3, 4): "three quarters", (1, 8): "an eighth", (3, 8): "three eighths"}
_FRACTION = re.compile(r"(?<![\d/])(?P<a>[1-9])/(?P<b>[2-8])(?![\d/])(?P<noun>\s+[a-z]+)?")
_NOT_A_NOUN = {"and", "or", "of", "to", "the", "a", "an", "is", "are", "was", "were", "in", "on", "at", "for"}
_DECADE = re.compile(r"(?<![\w'])(?:(?P<century>1[0-9]|20)|')?(?P<tens>\d)0s\b")
_TIMES = re.compile(r"(?<=\d)\s?[x×](?=\s+[a-z])")  # 3x faster
_BY = re.compile(r"(?<=\d)\s?[x×]\s?(?=\d)")  # 1920x1080
_ABBREVIATIONS = [
    (re.compile(r"\be\.g\.(?=\s|,)", re.IGNORECASE), "for example"),
    (re.compile(r"\bi\.e\.(?=\s|,)", re.IGNORECASE), "that is"),
    (re.compile(r"\betc\.(?=\s+[a-z])"), "et cetera"),  # in the middle of a sentence
    (re.compile(r"\betc\.(?!\w)"), "et cetera."),
    (re.compile(r"\bapprox\.(?=\s)"), "approximately"),
    (re.compile(r"\bvs\.?(?=\s)"), "versus"),
    (re.compile(r"\bNo\.\s?(?=\d)"), "number "),
    (re.compile(r"(?<![\w&])#(?=\d)"), "number "),
    (re.compile(r"\b24/7\b"), "twenty four seven"),
]


def _measure(m: re.Match) -> str:
    one, many = _UNITS[m["unit"]]
    power = f"{_AREA[m['power']]} " if m["power"] else ""
    return f"{m['n']} {power}{one if m['n'] == '1' else many}"


def _fraction(m: re.Match) -> str:
    said = _FRACTIONS.get((int(m["a"]), int(m["b"])))
    if said is None:
        return m[0]
    noun = m["noun"] or ""
    if noun.strip() in _NOT_A_NOUN:
        return f"{'one half' if said == 'half' else said}{noun}"
    if said == "half":  # "1/2 cup": half a cup
        return f"half a{'n' if noun.strip()[:1] in tuple('aeiou') else ''}{noun}" if noun else "one half"
    return f"{said}{' of a' + noun if noun else ''}"


def _decade(m: re.Match) -> str:
    """1990s: nineteen nineties; 2000s: two thousands; '80s, 80s: eighties."""
    tens = int(m["tens"])
    if not m["century"]:
        if tens < 2:
            return m[0]
        return number_words(tens * 10)[:-1] + "ies"
    century = int(m["century"])
    if tens == 0:
        return "two thousands" if century == 20 else f"{number_words(century)} hundreds"
    last = number_words(tens * 10)
    return f"{number_words(century)} {last[:-1] + 'ies' if last.endswith('y') else last + 's'}"


def say_measures(text: str) -> str:
    """Units, ranges, fractions, decades and common abbreviations of `text` as said."""
    for pattern, said in _ABBREVIATIONS:
        text = pattern.sub(said, text)
    text = _DECADE.sub(_decade, text)
    text = _FRACTION.sub(_fraction, text)
    text = _RANGE.sub(lambda m: f"{m['a']}{m['ap'] or ''} to {m['b']}", text)
    text = _TIMES.sub(" times", text)
    text = _BY.sub(" by ", text)
    text = _MEASURE.sub(_measure, text)
    return _PER.sub(lambda m: f" per {_UNITS[m['unit']][0]}", text)
