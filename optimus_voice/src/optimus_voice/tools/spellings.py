"""British spellings and their American forms, for a WER that does not count "metres" against "meters" (no rclpy).

Recognizers write either ("counselled" in a LibriSpeech reference, "counseled" in Moonshine's text; "meters" in a
CMU reference, "metres" in Moonshine's), and so do the references. The list is written out word by word, never a
rule on letters: a rule such as "-lled" to "-led" would also make "filled" and "filed" one word and hide a real
error. Built from stems with the endings each takes.
"""

from __future__ import annotations

# stem pairs (British, American) and the endings both take
_OUR = ["colour", "favour", "honour", "humour", "labour", "neighbour", "behaviour", "flavour", "harbour", "rumour",
        "vapour", "odour", "armour", "savour", "parlour", "vigour", "endeavour", "splendour", "clamour", "fervour"]
_OUR_ENDINGS = ["", "s", "ed", "ing", "ful", "fully", "less", "able", "ably", "er", "ers", "ite", "ites", "ist",
                "ists", "hood", "hoods", "ly", "ary"]
_RE = ["centre", "metre", "litre", "theatre", "fibre", "calibre", "spectre", "sombre", "lustre", "meagre",
       "kilometre", "centimetre", "millimetre", "sabre", "mitre", "lacklustre"]
_RE_ENDINGS = [("", ""), ("s", "s"), ("d", "ed"), ("ing", "ing")]  # centred: centered; centring: centering
_ISE = ["realis", "organis", "recognis", "apologis", "criticis", "emphasis", "memoris", "summaris", "prioritis",
        "specialis", "categoris", "minimis", "maximis", "optimis", "finalis", "characteris", "standardis",
        "authoris", "civilis", "mobilis", "visualis", "customis", "utilis", "normalis", "symbolis", "sympathis",
        "harmonis", "modernis", "familiaris", "legalis", "personalis", "stabilis", "synchronis", "hospitalis",
        "patronis", "scrutinis", "agonis", "fantasis", "idealis", "jeopardis", "publicis", "terroris"]
_ISE_ENDINGS = ["e", "es", "ed", "ing", "ation", "ations", "er", "ers"]
_YSE = ["analys", "paralys", "catalys"]
_YSE_ENDINGS = ["e", "es", "ed", "ing", "er", "ers"]
_LL = ["travel", "cancel", "counsel", "model", "label", "level", "fuel", "signal", "quarrel", "channel", "total",
       "dial", "marvel", "shovel", "tunnel", "jewel", "duel", "equal", "rival", "funnel", "grovel", "revel",
       "snorkel", "swivel", "yodel", "libel", "panel", "pedal", "pencil", "enamel", "gambol"]
_LL_ENDINGS = [("led", "ed"), ("ling", "ing"), ("ler", "er"), ("lers", "ers"), ("lor", "or"), ("lors", "ors")]
_WORDS = {
    "grey": "gray", "greys": "grays", "greyish": "grayish", "programme": "program", "programmes": "programs",
    "tyre": "tire", "tyres": "tires", "cheque": "check", "cheques": "checks", "defence": "defense",
    "offence": "offense", "pretence": "pretense", "licence": "license", "mould": "mold", "moulds": "molds",
    "mouldy": "moldy", "plough": "plow", "ploughs": "plows", "ploughed": "plowed", "sceptic": "skeptic",
    "sceptical": "skeptical", "scepticism": "skepticism", "pyjamas": "pajamas", "aluminium": "aluminum",
    "catalogue": "catalog", "catalogues": "catalogs", "analogue": "analog", "ageing": "aging",
    "judgement": "judgment", "judgements": "judgments", "acknowledgement": "acknowledgment", "storey": "story",
    "storeys": "stories", "kerb": "curb", "draught": "draft", "draughts": "drafts", "jewellery": "jewelry",
    "marvellous": "marvelous", "woollen": "woolen", "enrolment": "enrollment", "fulfil": "fulfill",
    "fulfilment": "fulfillment", "skilful": "skillful", "wilful": "willful", "instalment": "installment",
    "moustache": "mustache", "whisky": "whiskey", "paediatric": "pediatric", "encyclopaedia": "encyclopedia",
    "anaemia": "anemia", "anaesthetic": "anesthetic", "oestrogen": "estrogen", "manoeuvring": "maneuvering",
    "manoeuvres": "maneuvers", "manoeuvred": "maneuvered", "manoeuvre": "maneuver", "practise": "practice",
    "practised": "practiced", "practising": "practicing",
}


def _pairs() -> dict[str, str]:
    pairs = dict(_WORDS)
    for stem in _OUR:
        for end in _OUR_ENDINGS:
            pairs[stem + end] = stem[:-2] + "r" + end
    for stem in _RE:
        for british, american in _RE_ENDINGS:
            pairs[(stem[:-1] if british == "ing" else stem) + british] = stem[:-2] + "er" + american
    for stem in _ISE:
        for end in _ISE_ENDINGS:
            pairs[stem + end] = stem[:-1] + "z" + end
    for stem in _YSE:
        for end in _YSE_ENDINGS:
            pairs[stem + end] = stem[:-1] + "z" + end
    for stem in _LL:
        for british, american in _LL_ENDINGS:
            pairs[stem + british] = stem + american
    return pairs


AMERICAN = _pairs()
