"""Text normalisation for FAQ matching: lowercase, ё->е, no punctuation or emoji, stop words, stems.

Stemming uses the Snowball stemmers (``snowballstemmer``, pure Python) for Russian and English
and every other language Snowball knows. Without the package a light built-in suffix stripper is
used so the bot still works, only with somewhat weaker matching of word forms.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from functools import lru_cache

try:  # pragma: no cover - exercised through whichever branch is installed
    import snowballstemmer
except ImportError:  # pragma: no cover
    snowballstemmer = None

_SNOWBALL = {
    "en": "english",
    "ru": "russian",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "sv": "swedish",
    "no": "norwegian",
    "da": "danish",
    "fi": "finnish",
    "tr": "turkish",
    "pl": "polish",
    "cs": "czech",
    "hu": "hungarian",
    "ro": "romanian",
    "el": "greek",
    "ar": "arabic",
    "hy": "armenian",
    "lt": "lithuanian",
    "sr": "serbian",
    "id": "indonesian",
}

STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        """
        a about above after again against all am an and any are as at be because been before being
        below between both but by can could did do does doing done down during each few for from
        further had has have having he her here hers herself him himself his how i if in into is it
        its itself just me might more most must my myself no nor not now of off on once only or other
        our ours ourselves out over own same shall she should so some such than that the their theirs
        them themselves then there these they this those through to too under until up very was we
        were what when where which while who whom why will with would you your yours yourself
        yourselves also any anything something get got getting let lets may many much really still
        already yet ever please pls plz thanks thank thx hi hello hey dear guys ok okay oh well need
        want wanna would like know tell say help us one ve ll re d s t m make do doing
        go going anyone someone somebody anybody
        im ive id youre dont doesnt didnt cant couldnt wont isnt arent wasnt werent havent hasnt
        whats hows wheres whens whos thats theres
    """.split()
    ),
    "ru": frozenset(
        """
        а без более больше будет будто бы был была были было быть в вам вас ведь весь во вот впрочем
        все всегда всего всех всю вы где да даже для до другой его ее ей ему если есть еще ж же за
        зачем здесь и из или им иногда их к как какая какой какие каким какое какую какого каком какому
        каких кто куда ли
        лучше между меня мне много может можно мой моя мое мои моего моей моему моим моих мою
        мы на над надо наконец нас не него нее ней нельзя нет ни нибудь никогда ним них ничего но ну
        о об один он она они опять от перед по под после потом потому почему почти при про раз разве
        с сам свой своя свое свои своего своей своих свою себе себя сейчас со совсем так также такой
        там тебя тем теперь то тогда того тоже только том тот три тут ты у уж уже хоть хорошо чего
        чем через что чтоб чтобы чуть эта эти этим этого этой этом этот эту это я
        ваш ваша ваше ваши вашего вашей вашем вашим ваших вашу наш наша наше наши нашего нашей нашем
        весь вся всё
        сколько скока скоко скольки когда вообще просто очень пожалуйста плиз спасибо здравствуйте
        привет добрый день вечер утро подскажите скажите расскажите пожалуйста хочу хотел хотела
        хотим хотелось бы нужно нужен нужна нужны надо мочь могу может можете могли ли либо
        кстати вот ага да нет ок окей
        сделать делать сделал сделала делаю сделаю быть бывает это
    """.split()
    ),
}

# Negations are not dropped like other stop words: "my order has not arrived" and "my order
# arrived" ask different things. Every negation becomes the one term NOT_TERM.
NOT_TERM = "_not_"
NEGATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(
        """
        not no never nothing nobody none cannot cant couldnt dont doesnt didnt hasnt havent hadnt isnt
        arent wasnt werent wont wouldnt shouldnt neither nor without
    """.split()
    ),
    "ru": frozenset("не нет ни никак ничего никогда ниче нету без".split()),
}
# Question words: where/when/how much tell "where is my parcel" from "when will my parcel arrive".
QUESTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("where when how much many long why which what".split()),
    "ru": frozenset("где когда сколько скока скоко почему зачем куда какой какая какие как".split()),
}


# Russian verbs take prefixes the stemmer keeps: копить / накопить, платить / оплатить / заплатить.
VERB_PREFIXES: dict[str, tuple[str, ...]] = {
    "ru": (
        "пере",
        "при",
        "про",
        "раз",
        "рас",
        "под",
        "от",
        "до",
        "на",
        "за",
        "по",
        "вы",
        "об",
        "с",
        "у",
        "о",
    ),
}


def unprefixed(term: str, language: str, *, min_rest: int = 3) -> list[str]:
    """The term without each verb prefix it may start with (not including the term itself)."""
    prefixes = VERB_PREFIXES.get(language.split("-")[0], ())
    return [term[len(p) :] for p in prefixes if term.startswith(p) and len(term) - len(p) >= min_rest]


# Russian <-> English keyboard layouts: "ghjvjrjl" typed with the wrong layout is "промокод".
_EN_KEYS = "`qwertyuiop[]asdfghjkl;'zxcvbnm,."
_RU_KEYS = "ёйцукенгшщзхъфывапролджэячсмитьбю"
_TO_RU = str.maketrans(_EN_KEYS, _RU_KEYS)
_TO_EN = str.maketrans(_RU_KEYS, _EN_KEYS)

_JOINERS = re.compile(r"(?<=\w)['’\-‐‑](?=\w)")
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lowercase, ё->е, letters and digits only (punctuation, emoji, symbols -> space), one space.

    Hyphens and apostrophes inside words are dropped ("e-mail" -> "email", "don't" -> "dont").
    """
    text = unicodedata.normalize("NFKC", text.replace("№", " ")).lower().replace("ё", "е")  # NFKC: № -> No
    text = _JOINERS.sub("", text)
    out = [ch if ch.isalnum() else " " for ch in text]
    return _WS.sub(" ", "".join(out)).strip()


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def stop_words(language: str) -> frozenset[str]:
    return STOP_WORDS.get(language.split("-")[0], frozenset())


def content_words(
    words: list[str], language: str, *, negation: bool = True, question_words: bool = False
) -> list[str]:
    """Words that carry meaning: stop words out, every negation as NOT_TERM (when `negation`),
    question words kept when `question_words`."""
    base = language.split("-")[0]
    stop = STOP_WORDS.get(base, frozenset())
    negations = NEGATIONS.get(base, frozenset()) if negation else frozenset()
    keep = QUESTION_WORDS.get(base, frozenset()) if question_words else frozenset()
    out = []
    for word in words:
        if word in negations:
            out.append(NOT_TERM)
        elif word in keep or word not in stop:
            out.append(word)
    return out


def swap_layout(text: str, language: str) -> str | None:
    """The text as it was meant, if it was typed with the wrong keyboard layout; else None.

    Only for a text written entirely in the other script: "ghjvjrjl" with language "ru" is
    "промокод"; a Russian text with an English brand name in it is left alone.
    """
    base = language.split("-")[0]
    has_latin = any("a" <= c <= "z" for c in text.lower())
    has_cyrillic = any("а" <= c <= "я" or c == "ё" for c in text.lower())
    if base == "ru" and has_latin and not has_cyrillic:
        return text.lower().translate(_TO_RU)
    if base == "en" and has_cyrillic and not has_latin:
        return text.lower().translate(_TO_EN)
    return None


# --- stemming ------------------------------------------------------------------------------------

_RU_SUFFIXES = sorted(
    """
    иями ями ами ях ах ей ой ий ый ая яя ое ее ие ые ом ем ую юю ого его ому ему ых их ым им ою ею
    ость ости ов ев ия ья ие ье ии ьи иям ям ам ию ью а я о е ы и у ю ь й ть ться тся ешь ет ем ете
    ут ют ит им ите ат ят ал ала ало али ил ила ило или ен ена ено ены ан ана ано аны
    """.split(),
    key=len,
    reverse=True,
)
_EN_SUFFIXES = sorted("ing ed es s ly ment ness ies ation ations".split(), key=len, reverse=True)


def _light_stem(word: str, suffixes: list[str]) -> str:
    for suffix in suffixes:
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


_local = threading.local()  # Snowball stemmer objects keep state: one per thread


def _stemmer_for(language: str) -> Callable[[str], str]:
    base = language.split("-")[0]
    algorithm = _SNOWBALL.get(base)
    if snowballstemmer is not None and algorithm:

        def stem(word: str) -> str:
            cache = _local.__dict__.setdefault("stemmers", {})
            stemmer = cache.get(algorithm)
            if stemmer is None:
                stemmer = cache[algorithm] = snowballstemmer.stemmer(algorithm)
            stemmed: str = stemmer.stemWord(word)
            return stemmed

        return stem
    if base == "ru":
        return lambda w: _light_stem(w, _RU_SUFFIXES)
    if base == "en":
        return lambda w: _light_stem(w, _EN_SUFFIXES)
    return lambda w: w


@lru_cache(maxsize=64)
def stemmer(language: str) -> Callable[[str], str]:
    """A cached `word -> stem` function for the language (identity when none is known)."""
    return lru_cache(maxsize=50_000)(_stemmer_for(language))


def stem_tokens(words: list[str], language: str, *, drop_stop_words: bool = True) -> list[str]:
    stop = stop_words(language) if drop_stop_words else frozenset()
    stem = stemmer(language)
    return [w if w == NOT_TERM else stem(w) for w in words if w not in stop]


# --- Russian typed in Latin letters --------------------------------------------------------------

try:  # pragma: no cover - exercised through whichever branch is installed
    import cyrtranslit
except ImportError:  # pragma: no cover
    cyrtranslit = None

# Informal Latin spellings that cyrtranslit's (GOST-like) table reads differently: fixed before it
# runs. "bally"/"dvazhdy": a final y after a consonant is ы; "tsena": ц; "prikhodit": х; "shch": щ.
_TRANSLIT_FIXES = (
    (re.compile(r"shch"), "щ"),
    (re.compile(r"kh"), "х"),
    (re.compile(r"ts(?=[aeiouy])"), "ц"),
    (re.compile(r"(?<=[bcdfghklmnprstvwxz])y\b"), "ы"),
    (re.compile(r"(?<=[bcdfghklmnprstvwxz])iy\b"), "ий"),
)
_LATIN_WORD = re.compile(r"[a-z]+")


def latin_to_cyrillic(text: str, language: str) -> str | None:
    """Russian typed in Latin letters read in Cyrillic ("gde moy zakaz" -> "где мой заказ"), only
    for Russian and only when the text has Latin words; None otherwise (or without cyrtranslit)."""
    if language.split("-")[0] != "ru" or cyrtranslit is None:
        return None
    lowered = text.lower()
    if not _LATIN_WORD.search(lowered):
        return None
    for pattern, repl in _TRANSLIT_FIXES:
        lowered = pattern.sub(repl, lowered)
    return str(cyrtranslit.to_cyrillic(lowered, "ru"))


# --- one message, several questions --------------------------------------------------------------

_CLAUSE_SPLIT = {
    "en": re.compile(r"[.!?;:\n,()]+|\b(?:and|but|also|plus|because|so)\b"),
    "ru": re.compile(r"[.!?;:\n,()]+|(?<!\w)(?:и|а|но|еще|ещё|также|потому|короче|блин)(?!\w)"),
}


def clauses(text: str, language: str) -> list[str]:
    """The parts of a message that may each be a question on its own ("how long is shipping and
    how much is it"; a long story with the question at the end). Empty for a one-part message."""
    pattern = _CLAUSE_SPLIT.get(language.split("-")[0])
    if pattern is None:
        return []
    parts = [p.strip() for p in pattern.split(text.lower()) if p and p.strip()]
    return parts if len(parts) > 1 else []
