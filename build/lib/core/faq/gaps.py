"""Group similar unanswered questions so a business writes one new FAQ entry per topic, not one per
phrasing.

Each question becomes a TF-IDF vector of its word stems (stop words out, Russian typed in Latin
letters read in Cyrillic, typos of the same word merged when the words share their first letters);
questions are joined greedily, most frequent first, to the cluster whose centroid is the most similar
(cosine >= `threshold`). A cluster's title is its most asked phrasing; its `terms` are the stems that
weigh most in it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz.distance import Levenshtein

from core.faq.text import content_words, latin_to_cyrillic, normalize, stemmer

DEFAULT_THRESHOLD = 0.35
MAX_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class GapQuestion:
    """One distinct unanswered phrasing and how often it was asked."""

    text: str
    language: str
    count: int
    unanswered: int = 0
    unhelpful: int = 0
    last_asked: datetime | None = None


@dataclass(frozen=True, slots=True)
class GapCluster:
    title: str  # the most asked phrasing: a starting point for the new entry's question
    language: str
    count: int  # times asked, all phrasings together
    unanswered: int
    unhelpful: int
    phrasings: int  # distinct phrasings in the cluster
    examples: tuple[str, ...]  # most asked first
    terms: tuple[str, ...]  # the stems that define the cluster
    last_asked: datetime | None


def _stems(text: str, language: str) -> list[str]:
    reading = latin_to_cyrillic(text, language) or text
    stem = stemmer(language)
    return [stem(w) for w in content_words(normalize(reading).split(), language, negation=False)]


def _canonical(stems: list[str], vocabulary: dict[str, str]) -> list[str]:
    """Map a stem to an earlier one it is a form or a typo of (one a prefix of the other; or the same
    first two letters and one edit, two from 8 letters)."""
    out = []
    for s in stems:
        if s in vocabulary:
            out.append(vocabulary[s])
            continue
        found = s
        for known in list(vocabulary.values()):  # word forms the stemmer cut differently: отм/отмен
            short, long_ = sorted((known, s), key=len)
            if len(short) >= 3 and long_.startswith(short) and len(long_) - len(short) <= 3:
                found = known
                break
        if found == s and len(s) >= 5:
            for known in list(vocabulary.values()):
                limit = 2 if len(s) >= 8 else 1
                if (
                    known[:2] == s[:2]
                    and abs(len(known) - len(s)) <= limit
                    and Levenshtein.distance(known, s, score_cutoff=limit) <= limit
                ):
                    found = known
                    break
        vocabulary[s] = found
        out.append(found)
    return out


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def cluster_gaps(
    questions: Sequence[GapQuestion], *, threshold: float = DEFAULT_THRESHOLD
) -> list[GapCluster]:
    """Clusters of similar questions per language, the most asked cluster first."""
    out: list[GapCluster] = []
    by_language: dict[str, list[GapQuestion]] = defaultdict(list)
    for q in questions:
        by_language[q.language].append(q)
    for language, items in sorted(by_language.items()):
        items = sorted(items, key=lambda q: (-q.count, q.text))
        vocabulary: dict[str, str] = {}
        bags = [Counter(_canonical(_stems(q.text, language), vocabulary)) for q in items]
        df: Counter[str] = Counter()
        for bag in bags:
            df.update(set(bag))
        n = len(items)
        idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
        vectors = [{t: (1 + math.log(c)) * idf[t] for t, c in bag.items()} for bag in bags]
        groups: list[list[int]] = []
        centroids: list[dict[str, float]] = []
        for i, vec in enumerate(vectors):
            best, best_sim = -1, threshold
            for g, centroid in enumerate(centroids):
                sim = _cosine(vec, centroid)
                if sim >= best_sim:
                    best, best_sim = g, sim
            if best < 0 or not vec:
                groups.append([i])
                centroids.append(dict(vec))
                continue
            groups[best].append(i)
            centroid = defaultdict(float)
            for j in groups[best]:
                for t, w in vectors[j].items():
                    centroid[t] += w * items[j].count
            centroids[best] = dict(centroid)
        for members, centroid in zip(groups, centroids, strict=True):
            qs = [items[j] for j in members]
            lasts = [q.last_asked for q in qs if q.last_asked is not None]
            top_terms = sorted(centroid.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            out.append(
                GapCluster(
                    title=qs[0].text,
                    language=language,
                    count=sum(q.count for q in qs),
                    unanswered=sum(q.unanswered for q in qs),
                    unhelpful=sum(q.unhelpful for q in qs),
                    phrasings=len(qs),
                    examples=tuple(q.text for q in qs[:MAX_EXAMPLES]),
                    terms=tuple(t for t, _ in top_terms),
                    last_asked=max(lasts) if lasts else None,
                )
            )
    out.sort(key=lambda c: (-c.count, -c.phrasings, c.language, c.title))
    return out
