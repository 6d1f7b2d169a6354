"""Free-text matching of a customer's question against one language's FAQ.

See the package docstring (core/faq/__init__.py) for the design and the measured figures.

In short: every text is normalised, stop words are dropped (question words such as where/когда
and negations such as not/не are kept: they tell "where is my parcel" from "when will it come"
and "it has not arrived" from "it arrived broken") and the rest is stemmed (Snowball). Each query
word is resolved to FAQ vocabulary terms: the same stem, else the closest terms by edit distance
(typos, rapidfuzz OSA), Russian verb prefixes (копить ~ накопить) and a shared 5-letter prefix
(word forms the stemmer does not unify). A text typed in the wrong keyboard layout is also read
in the other one. An entry's score (0-100) blends
  * coverage: the idf-weighted share of the query's words the entry explains, each word counting
    with the weight of the best field it is found in (question > keywords > answer) and the
    similarity of the match; words unknown to the FAQ count against every entry, which is what
    makes off-topic questions score low;
  * phrase: how completely the query covers the entry's question or one of its keyword phrases.
The score decides: answer (confident and clearly ahead of the runner-up), suggest, or none.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import process
from rapidfuzz.distance import OSA

from core.faq.model import FaqDocument, FaqEntry
from core.faq.text import (
    NOT_TERM,
    QUESTION_WORDS,
    clauses,
    content_words,
    latin_to_cyrillic,
    normalize,
    stemmer,
    swap_layout,
    unprefixed,
)

MatchKind = Literal["answer", "suggest", "none"]

# Field of an entry a term was found in; the weights come from MatchConfig.
_QUESTION, _KEYWORDS, _ANSWER = 0, 1, 2
_VOWELS = frozenset("аеиоуыэюяaeiouy")


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """Scoring weights and decision thresholds (scores are 0-100). Tuned on the labelled set."""

    # measured on the tune part of tests/data/faq_customer_set (see tests/unit/faq_customer_eval.py)
    answer_threshold: float = 49.0  # best score at or above this, and clearly ahead: answer
    answer_margin: float = 25.0  # "clearly ahead": best - runner-up >= this
    suggest_threshold: float = 44.0  # best score at or above this (but not an answer): suggest
    candidate_threshold: float = 25.0  # other candidates shown only from this score
    max_candidates: int = 3

    question_weight: float = 1.0
    keyword_weight: float = 0.9
    answer_weight: float = 0.35
    phrase_weight: float = 0.35  # share of the score from the best covered question/keyword phrase
    unknown_word_weight: float = 1.0  # weight of a word the FAQ never uses, relative to the rarest word
    unknown_decay: float = 0.5  # the n-th unknown word counts decay**n as much (filler in long messages)
    phrase_mode: str = "both"  # "both": phrase covered x query explained by it; "phrase": the first only

    fuzzy: bool = True  # typo-tolerant word matching (edit distance)
    prefix_len: int = 5  # words sharing a prefix this long match (0: off)
    max_word_variants: int = 3
    verb_prefixes: bool = True  # копить ~ накопить (Russian)

    translit: bool = True  # Russian typed in Latin letters is also read in Cyrillic
    clauses: bool = True  # each part of a long or multi-question message is also scored alone
    clause_factor: float = 1.0  # a part's score counts this much against the whole message's
    min_clause_words: int = 2  # parts with fewer content words are not scored alone


DEFAULT_CONFIG = MatchConfig()


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """How texts are turned into terms (fixed when the index is built)."""

    stemming: bool = True
    negation: bool = True  # "not", "не", "didn't"... kept as one term
    question_words: bool = True  # keep where/when/how much, где/когда/сколько
    answers_in_idf: bool = False  # document frequencies count the answer text too
    synonyms: bool = True  # index each entry's `synonyms` (off: only to measure what they add)


DEFAULT_OPTIONS = IndexOptions()


@dataclass(frozen=True, slots=True)
class ScoredEntry:
    entry: FaqEntry
    score: float  # 0-100


@dataclass(frozen=True, slots=True)
class FaqMatch:
    """The result of a search.

    kind: "answer" - send `best.answer`; "suggest" - offer `candidates` (up to 3) as buttons;
    "none" - say nothing fits and offer a human. `candidates` is filled for every kind (runners-up
    after an answer, near misses after none: useful for logging unanswered questions); `best` is
    None when kind is "none".
    """

    kind: MatchKind
    language: str
    query: str  # the normalised text that was matched
    candidates: tuple[ScoredEntry, ...] = ()
    best: FaqEntry | None = None
    score: float = 0.0  # the top candidate's score (0 when there is none)


def _distance_limit(length: int) -> int:
    """Typos tolerated in a word of this length."""
    if length <= 3:
        return 0
    if length <= 7:
        return 1
    return 2


@dataclass(slots=True)
class _EntryTerms:
    fields: dict[str, int]  # term -> best field it appears in
    phrases: list[tuple[str, ...]]  # question and every keyword, as term tuples


@dataclass
class FaqIndex:
    """Search structures for one FaqDocument, computed once when the content is loaded.

    Only the per-word resolution cache changes afterwards (safe to share between threads)."""

    document: FaqDocument
    options: IndexOptions = DEFAULT_OPTIONS
    # entry id -> customer phrasings staff taught the bot (approved); matched like keywords
    learned: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _entries: list[FaqEntry] = field(default_factory=list, init=False)
    _terms: list[_EntryTerms] = field(default_factory=list, init=False)
    _idf: dict[str, float] = field(default_factory=dict, init=False)
    _oov_idf: float = field(default=1.0, init=False)
    _postings: dict[str, list[tuple[int, int]]] = field(default_factory=dict, init=False)
    _phrase_postings: dict[str, list[tuple[int, int]]] = field(default_factory=dict, init=False)
    _phrase_mass: list[list[float]] = field(default_factory=list, init=False)
    _vocab_terms: list[str] = field(default_factory=list, init=False)
    _vocab_words: list[str] = field(default_factory=list, init=False)
    _word_term: dict[str, str] = field(default_factory=dict, init=False)
    _cores: dict[str, list[str]] = field(default_factory=dict, init=False)  # term minus verb prefix
    _prefix_index: dict[int, dict[str, list[str]]] = field(default_factory=dict, init=False)
    _resolved: dict[tuple[str, bool, int, bool, int], tuple[tuple[str, float], ...]] = field(
        default_factory=dict, init=False
    )  # query word -> terms; bounded, shared by all searches on this content

    def __post_init__(self) -> None:
        opts = self.options
        stem = stemmer(self.document.language) if opts.stemming else (lambda w: w)
        word_term: dict[str, str] = {NOT_TERM: NOT_TERM}
        question_words = QUESTION_WORDS.get(self.document.language.split("-")[0], frozenset())

        def terms_of(text: str) -> tuple[str, ...]:
            out = []
            for word in self._words(normalize(text)):
                term = word_term.get(word)
                if term is None:
                    term = word_term[word] = word if word in question_words else stem(word)
                out.append(term)
            return tuple(out)

        df: dict[str, int] = defaultdict(int)
        for entry in self.document.entries:
            question = terms_of(entry.question)
            synonyms = entry.synonyms if opts.synonyms else ()
            extra = (*entry.keywords, *synonyms, *self.learned.get(entry.id, ()))
            keywords = [terms_of(k) for k in extra]
            answer = terms_of(entry.answer)
            fields: dict[str, int] = {}
            for kind, terms in (
                (_ANSWER, answer),
                (_KEYWORDS, [t for k in keywords for t in k]),
                (_QUESTION, question),
            ):
                for term in terms:
                    fields[term] = min(kind, fields.get(term, kind))
            phrases = [p for p in [question, *keywords] if p]
            self._entries.append(entry)
            self._terms.append(_EntryTerms(fields, phrases))
            for term in fields if opts.answers_in_idf else {*question, *(t for k in keywords for t in k)}:
                df[term] += 1

        n = len(self._entries)
        all_terms = {t for terms in self._terms for t in terms.fields}
        self._idf = {t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in all_terms}
        self._oov_idf = math.log(1 + (n - 1 + 0.5) / 1.5) if n else 1.0  # as rare as the rarest word
        for i, entry_terms in enumerate(self._terms):
            for term, kind in entry_terms.fields.items():
                self._postings.setdefault(term, []).append((i, kind))
            masses = []
            for p, phrase in enumerate(entry_terms.phrases):
                masses.append(sum(self._idf[t] for t in set(phrase)))
                for term in set(phrase):
                    self._phrase_postings.setdefault(term, []).append((i, p))
            self._phrase_mass.append(masses)
        self._vocab_terms = sorted(self._idf)
        for term in self._vocab_terms:
            for core in unprefixed(term, self.document.language):
                self._cores.setdefault(core, []).append(term)
        self._word_term = {w: t for w, t in word_term.items() if t in self._idf}
        self._vocab_words = sorted(self._word_term)

    def _heads(self, length: int) -> dict[str, list[str]]:
        """Vocabulary terms by their first `length` letters (built once per length)."""
        heads = self._prefix_index.get(length)
        if heads is None:
            heads = {}
            for term in self._vocab_terms:
                if len(term) >= length:
                    heads.setdefault(term[:length], []).append(term)
            self._prefix_index[length] = heads
        return heads

    def _words(self, normalized: str) -> list[str]:
        return content_words(
            normalized.split(),
            self.document.language,
            negation=self.options.negation,
            question_words=self.options.question_words,
        )

    # --- query side -----------------------------------------------------------------------------

    def _resolve(self, word: str, config: MatchConfig) -> tuple[tuple[str, float], ...]:
        """FAQ terms this query word may stand for, with a similarity 0-1 (empty: unknown word)."""
        key = (word, config.fuzzy, config.prefix_len, config.verb_prefixes, config.max_word_variants)
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        if word == NOT_TERM:
            found_not = ((NOT_TERM, 1.0),) if NOT_TERM in self._idf else ()
            self._resolved[key] = found_not
            return found_not
        if self.options.stemming and word not in QUESTION_WORDS.get(self.document.language.split("-")[0], ()):
            stem = stemmer(self.document.language)(word)
        else:
            stem = word
        found: dict[str, float] = {}
        if stem in self._idf:
            found[stem] = 1.0
        elif word in self._word_term:
            found[self._word_term[word]] = 1.0
        else:
            if config.fuzzy and not word.isdigit():
                for query, choices, to_term in (
                    (stem, self._vocab_terms, None),
                    (word, self._vocab_words, self._word_term),
                ):
                    limit = _distance_limit(len(query))
                    if not limit:
                        continue
                    for choice, dist, _ in process.extract(
                        query,
                        choices,
                        scorer=OSA.distance,
                        score_cutoff=limit,
                        limit=config.max_word_variants,
                    ):
                        # A first letter typo is rare; a different first letter is usually another word.
                        if (
                            choice[0] != query[0]
                            and len(query) < 8
                            and not (choice[0] in _VOWELS and query[0] in _VOWELS)
                        ):
                            continue
                        term = to_term[choice] if to_term else choice
                        sim = min(0.9, 1.0 - 0.5 * dist / limit)  # a typo never counts as much as the word
                        found[term] = max(found.get(term, 0.0), sim)
            if config.verb_prefixes:
                for core in [stem, *unprefixed(stem, self.document.language)]:
                    for term in [*self._cores.get(core, ()), *([core] if core in self._idf else ())]:
                        if term != stem:
                            found[term] = max(found.get(term, 0.0), 0.8)
            if config.prefix_len and len(stem) >= config.prefix_len:
                head = stem[: config.prefix_len]
                for term in self._heads(config.prefix_len).get(head, ()):
                    common = len(_common_prefix(term, stem))
                    sim = 0.6 + 0.3 * common / max(len(term), len(stem))
                    found[term] = max(found.get(term, 0.0), sim)
        best = tuple(sorted(found.items(), key=lambda kv: -kv[1])[: config.max_word_variants])
        if len(self._resolved) > 20_000:
            self._resolved.clear()
        self._resolved[key] = best
        return best

    def scores(
        self,
        text: str,
        config: MatchConfig = DEFAULT_CONFIG,
        memo: dict[str, tuple[float, dict[int, float], dict[tuple[int, int], float]]] | None = None,
    ) -> tuple[str, list[tuple[int, float]]]:
        """(normalised query, [(entry index, score 0-100)] best first, zero scores left out).
        `memo` keeps each word's contribution for the other readings of the same message."""
        query = normalize(text)
        words = self._words(query)
        if not words or not self._entries:
            return query, []
        memo = {} if memo is None else memo
        coverage: dict[int, float] = defaultdict(float)
        matched: dict[str, float] = {}  # term -> best similarity any query word reached
        explained: dict[tuple[int, int], float] = defaultdict(float)  # phrase -> query weight it explains
        total = 0.0
        unknown = 0
        for word in dict.fromkeys(words):
            variants = self._resolve(word, config)
            if not variants:
                # An unknown number (an order number, a date) says nothing about the topic.
                if not (word.isdigit() or word == NOT_TERM):
                    total += self._oov_idf * config.unknown_word_weight * config.unknown_decay**unknown
                    unknown += 1
                continue
            for term, sim in variants:
                if sim > matched.get(term, 0.0):
                    matched[term] = sim
            known = memo.get(word)
            if known is None:
                known = memo[word] = self._contribution(variants, config)
            weight, best_here, best_phrase = known
            total += weight
            for i, value in best_here.items():
                coverage[i] += weight * value
            for key, sim in best_phrase.items():
                explained[key] += weight * sim
        if total <= 0:
            return query, []
        phrase: dict[int, float] = {}
        if config.phrase_weight:
            touched: dict[tuple[int, int], float] = defaultdict(float)
            for term, sim in matched.items():
                for i, p in self._phrase_postings.get(term, ()):
                    touched[(i, p)] += self._idf[term] * sim
            for (i, p), mass in touched.items():
                value = mass / self._phrase_mass[i][p]
                if config.phrase_mode == "both":
                    value *= explained[(i, p)] / total
                if value > phrase.get(i, 0.0):
                    phrase[i] = value
        alpha = config.phrase_weight
        result = []
        for i in set(coverage) | set(phrase):
            score = 100.0 * ((1 - alpha) * coverage.get(i, 0.0) / total + alpha * phrase.get(i, 0.0))
            if score > 0:
                result.append((i, min(score, 100.0)))
        result.sort(key=lambda pair: (-pair[1], pair[0]))
        return query, result

    def readings(self, text: str, config: MatchConfig = DEFAULT_CONFIG) -> list[tuple[str, float]]:
        """The ways to read a message, each with the factor its score counts with: the text itself,
        the text in the other keyboard layout, Russian typed in Latin letters read in Cyrillic, and
        each part of a message of several parts."""
        language = self.document.language
        out = [(text, 1.0)]
        swapped = swap_layout(text, language)
        if swapped is not None:
            out.append((swapped, 1.0))
        if config.translit:
            cyrillic = latin_to_cyrillic(text, language)
            if cyrillic is not None and cyrillic != text:
                out.append((cyrillic, 1.0))
        if config.clauses:
            for whole, _ in list(out):
                for part in clauses(whole, language):
                    if len(self._words(normalize(part))) >= config.min_clause_words:
                        out.append((part, config.clause_factor))
        return out

    def _contribution(
        self, variants: tuple[tuple[str, float], ...], config: MatchConfig
    ) -> tuple[float, dict[int, float], dict[tuple[int, int], float]]:
        """A resolved query word's weight, the best field value it reaches in each entry, and the
        best similarity it reaches in each phrase."""
        weights = (config.question_weight, config.keyword_weight, config.answer_weight)
        best_here: dict[int, float] = {}
        best_phrase: dict[tuple[int, int], float] = {}
        for term, sim in variants:
            for i, kind in self._postings.get(term, ()):
                value = sim * weights[kind]
                if value > best_here.get(i, 0.0):
                    best_here[i] = value
            if config.phrase_mode == "both":
                for key in self._phrase_postings.get(term, ()):
                    if sim > best_phrase.get(key, 0.0):
                        best_phrase[key] = sim
        return max(self._idf[t] for t, _ in variants), best_here, best_phrase

    def rank(self, text: str, config: MatchConfig = DEFAULT_CONFIG) -> tuple[str, list[ScoredEntry]]:
        """(normalised query, every entry with a score above 0, best first). Every reading of the
        message (see `readings`) is scored; an entry keeps its best score over the readings, so
        a message asking two things ranks both entries high (and neither is answered outright)."""
        best_query, best_top = normalize(text), 0.0
        merged: dict[int, float] = {}
        memo: dict[str, tuple[float, dict[int, float], dict[tuple[int, int], float]]] = {}
        for reading, factor in self.readings(text, config):
            query, ranked = self.scores(reading, config, memo)
            if not ranked:
                continue
            if ranked[0][1] * factor > best_top:
                best_query, best_top = query, ranked[0][1] * factor
            for i, score in ranked:
                if score * factor > merged.get(i, 0.0):
                    merged[i] = score * factor
        ordered = sorted(merged.items(), key=lambda pair: (-pair[1], pair[0]))
        return best_query, [ScoredEntry(self._entries[i], s) for i, s in ordered]

    def search(self, text: str, config: MatchConfig = DEFAULT_CONFIG) -> FaqMatch:
        query, ranked = self.rank(text, config)
        return decide(self.document.language, query, ranked, config)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def decide(
    language: str, query: str, ranked: list[ScoredEntry], config: MatchConfig = DEFAULT_CONFIG
) -> FaqMatch:
    """Turn ranked entries (best first) into answer / suggest / none using the thresholds."""
    if not ranked:
        return FaqMatch("none", language, query)
    top = ranked[0].score
    candidates = [
        ranked[0],
        *(c for c in ranked[1 : config.max_candidates] if c.score >= config.candidate_threshold),
    ]
    scored = tuple(ScoredEntry(c.entry, round(c.score, 1)) for c in candidates)
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    if top >= config.answer_threshold and top - runner_up >= config.answer_margin:
        kind: MatchKind = "answer"
    elif top >= config.suggest_threshold:
        kind = "suggest"
    else:
        kind = "none"
    best = ranked[0].entry if kind != "none" else None
    return FaqMatch(kind, language, query, scored, best, round(top, 1))
