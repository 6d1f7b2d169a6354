"""Evaluation helpers for the customer-style FAQ set (tests/data/faq_customer_set)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from core.faq import MatchConfig, ScoredEntry
from core.faq.search import decide
from core.faq.text import normalize

SET_DIR = Path(__file__).resolve().parents[1] / "data" / "faq_customer_set"


@dataclass(frozen=True)
class Case:
    language: str
    text: str
    expected: tuple[str, ...]  # right first answers; empty: the FAQ has no answer
    split: str  # "tune" or "holdout"


def load_cases() -> list[Case]:
    cases = []
    for language in ("en", "ru"):
        for item in yaml.safe_load((SET_DIR / f"{language}.yaml").read_text(encoding="utf-8")):
            expected = (item["entry"], *item.get("also", ())) if item["entry"] else ()
            cases.append(Case(language, item["text"], expected, item["split"]))
    return cases


# (language, text) -> every entry with a score, best first
Ranker = Callable[[str, str], list[ScoredEntry]]


@dataclass
class Figures:
    top1: float = 0.0  # answerable: a right entry first and offered (answer or suggest)
    no_match: float = 0.0  # unanswerable: kind none
    confident_precision: float = 1.0  # of all "answer" replies, share right
    confident: float = 0.0  # answerable: answered confidently and right
    answerable: int = 0
    unanswerable: int = 0
    misses: list[str] = field(default_factory=list)

    def short(self) -> str:
        return f"{self.top1:6.1%} {self.no_match:6.1%} {self.confident_precision:6.1%}"

    def line(self) -> str:
        return (
            f"top-1 {self.top1:.1%} of {self.answerable}, no-match {self.no_match:.1%} of "
            f"{self.unanswerable}, confident answers right {self.confident_precision:.1%} "
            f"(confident and right {self.confident:.1%} of answerable)"
        )


def evaluate(ranker: Ranker, config: MatchConfig, cases: list[Case]) -> Figures:
    top1 = confident = answered = answered_right = none = n_ans = n_none = 0
    misses = []
    for case in cases:
        ranked = ranker(case.language, case.text)
        match = decide(case.language, normalize(case.text), ranked, config)
        got = match.best.id if match.best else None
        first = ranked[0].entry.id if ranked else None
        right = got in case.expected
        if match.kind == "answer":
            answered += 1
            answered_right += right
        if not case.expected:
            n_none += 1
            none += match.kind == "none"
            if match.kind != "none":
                misses.append(
                    f"[{case.language}] {case.text!r}: expected none, got {match.kind} {got} ({match.score})"
                )
        else:
            n_ans += 1
            top1 += right
            confident += match.kind == "answer" and right
            if not right:
                misses.append(
                    f"[{case.language}] {case.text!r}: expected {case.expected[0]}, "
                    f"got {match.kind} {first} ({match.score})"
                )
    return Figures(
        top1=top1 / n_ans if n_ans else 0.0,
        no_match=none / n_none if n_none else 0.0,
        confident_precision=answered_right / answered if answered else 1.0,
        confident=confident / n_ans if n_ans else 0.0,
        answerable=n_ans,
        unanswerable=n_none,
        misses=misses,
    )


def cached(ranker: Ranker, cases: list[Case]) -> Ranker:
    table = {(c.language, c.text): ranker(c.language, c.text) for c in cases}
    return lambda lang, text: table[(lang, text)]


def tune_thresholds(
    ranker: Ranker, base: MatchConfig, cases: list[Case], *, precision: float = 0.98
) -> MatchConfig:
    """The thresholds that suit this ranker best on `cases` (the tune part only): the most
    top-1 + no-match with confident answers at least `precision` right."""
    rows = []
    for case in cases:
        ranked = ranker(case.language, case.text)
        top = ranked[0].score if ranked else 0.0
        gap = top - (ranked[1].score if len(ranked) > 1 else 0.0)
        ok = bool(ranked) and ranked[0].entry.id in case.expected
        rows.append((top, gap, ok, not case.expected))
    n_none = sum(1 for r in rows if r[3]) or 1
    n_ans = (len(rows) - sum(1 for r in rows if r[3])) or 1
    best: tuple[tuple[float, float], MatchConfig] | None = None
    for suggest in range(20, 80, 1):
        for answer in [*range(max(suggest, 40), 100, 5), 101]:  # 101: never confident
            for margin in (5, 10, 15, 20, 25):
                top1 = none = confident = answered = right = 0
                for top, gap, ok, unanswerable in rows:
                    kind = (
                        "answer"
                        if top >= answer and gap >= margin
                        else "suggest"
                        if top >= suggest
                        else "none"
                    )
                    answered += kind == "answer"
                    right += kind == "answer" and ok and not unanswerable
                    if unanswerable:
                        none += kind == "none"
                    else:
                        top1 += kind != "none" and ok
                        confident += kind == "answer" and ok
                if answered and right / answered < precision:
                    continue
                # equal weight to answering and to staying silent; ties: more confident answers
                goal = (round(top1 / n_ans + none / n_none, 6), confident / n_ans)
                if best is None or goal > best[0]:
                    best = (
                        goal,
                        replace(
                            base, suggest_threshold=suggest, answer_threshold=answer, answer_margin=margin
                        ),
                    )
    assert best is not None
    return best[1]
