"""Quality of the FAQ matcher on a labelled set of realistic customer messages (ru and en).

Each case is (message, expected entry id) or (message, None) when the FAQ has no answer.
Measured:
  * top-1 accuracy on answerable messages: kind "answer" or "suggest" with the right entry first;
  * no-match rate on unanswerable messages: kind "none";
  * confident precision: of the "answer" replies, the share that were right (a wrong confident
    answer is the worst outcome, so this is watched separately).
Run with -s to see the figures; `test_matcher_variants` prints the comparison of the matchers
that were tried (the numbers quoted in core/faq/__init__.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from core.faq import DEFAULT_CONFIG, DEFAULT_OPTIONS, FaqLibrary, MatchConfig, ScoredEntry
from core.faq.search import decide
from core.faq.text import normalize, stem_tokens

FAQ_DIR = Path(__file__).resolve().parents[2] / "faq"

RU: list[tuple[str, str | None]] = [
    # delivery
    ("скока идет доставка", "delivery-time"),
    ("когда привезут мой заказ?", "delivery-time"),
    ("за сколько дней доставляете в Новосибирск", "delivery-time"),
    ("доствка долго идет?", "delivery-time"),
    ("сколько стоит доставка курьером", "delivery-cost"),
    ("доставка у вас бесплатная?", "delivery-cost"),
    ("какая цена доставки до пвз", "delivery-cost"),
    ("скока стоит доставка", "delivery-cost"),
    ("где мой заказ", "delivery-tracking"),
    ("как отследть посылку по трек-номеру", "delivery-tracking"),
    ("доставляете в беларусь?", "delivery-regions"),
    ("можно заказать доставку в германию", "delivery-regions"),
    ("хочу поменять адрес доставки", "delivery-change-address"),
    ("указал неверный адрес, как исправить", "delivery-change-address"),
    ("можно забрать заказ самовывозом", "delivery-pickup"),
    ("сколько дней заказ лежит в пункте выдачи", "delivery-pickup"),
    ("заказ так и не пришел уже неделю", "delivery-late"),
    ("курьер не приехал", "delivery-late"),
    # returns
    ("вернуть товар", "returns-how"),
    ("возврат товаров как оформить", "returns-how"),
    ("как сделать возврат", "returns-how"),
    ("хочу сдать кроссовки обратно", "returns-how"),
    ("вазврат товара", "returns-how"),
    ("сколько дней есть на возврат", "returns-deadline"),
    ("можно ли вернуть вещь через месяц после покупки", "returns-deadline"),
    ("когда вернут деньги за возврат", "returns-refund-time"),
    ("деньги за возврат до сих пор не пришли на карту", "returns-refund-time"),
    ("пришла сломанная вещь", "returns-damaged"),
    ("прислали не тот товар", "returns-damaged"),
    ("пришел товар с браком", "returns-damaged"),
    ("обменять на размер побольше", "returns-exchange"),
    ("куртка маленькая, можно поменять на другой размер?", "returns-exchange"),
    ("можно вернуть нижнее белье", "returns-non-returnable"),
    # payment
    ("как можно оплатить заказ", "payment-methods"),
    ("принимаете карты мир?", "payment-methods"),
    ("можно оплатить наличными курьеру", "payment-methods"),
    ("не проходит оплата картой", "payment-failed"),
    ("ошибка при оплате", "payment-failed"),
    ("нужен чек", "payment-invoice"),
    ("нужен счет на юр лицо с ндс", "payment-invoice"),
    ("есть рассрочка?", "payment-installments"),
    ("рассрочко есть?", "payment-installments"),
    ("можно оплатить долями", "payment-installments"),
    ("деньги списали два раза", "payment-charged-twice"),
    ("куда вводить промокод", "payment-promo-code"),
    ("промокод не применяется", "payment-promo-code"),
    ("ghjvjrjl", "payment-promo-code"),  # "промокод" typed with the English layout
    # loyalty
    ("как копить баллы", "loyalty-earn"),
    ("сколько баллов начисляется за покупку", "loyalty-earn"),
    ("как оплатить баллами", "loyalty-spend"),
    ("можно ли списать бонусы на доставку", "loyalty-spend"),
    ("сгорят ли мои бонусы", "loyalty-expiry"),
    ("сколько действуют баллы", "loyalty-expiry"),
    ("как получить золотой статус", "loyalty-tiers"),
    ("какие уровни в программе лояльности", "loyalty-tiers"),
    ("реферальная программа есть?", "loyalty-referral"),
    ("что получу если приглашу друга", "loyalty-referral"),
    ("дарите что нибудь на др?", "loyalty-birthday"),
    ("бонусы в день рождения", "loyalty-birthday"),
    ("сколько у меня бонусов", "loyalty-balance"),
    ("где посмотреть баланс баллов", "loyalty-balance"),
    ("не пришли баллы за заказ", "loyalty-missing-points"),
    # account
    ("как поменять email", "account-change-email"),
    ("сменил номер телефона, как обновить", "account-change-email"),
    ("удалите мои данные", "account-delete"),
    ("как удалить учетную запись", "account-delete"),
    ("как привязать телеграм", "account-link-telegram"),
    ("забыл пароль", "account-login"),
    ("не приходит смс с кодом для входа", "account-login"),
    ("как отписаться от рассылки", "account-notifications"),
    # subscription
    ("сколько стоит подписка плюс", "subscription-price"),
    ("что дает плюс", "subscription-price"),
    ("можно заморозить подписку на время отпуска", "subscription-pause"),
    ("как отменить подписку", "subscription-cancel"),
    ("хочу отказаться от подписки", "subscription-cancel"),
    ("атменить подписку", "subscription-cancel"),
    ("отключите автопродление", "subscription-cancel"),
    ("перейти на годовую подписку", "subscription-change-plan"),
    ("когда следующее списание за подписку", "subscription-renewal"),
    ("когда продлится подписка", "subscription-renewal"),
    # not in the FAQ
    ("какая погода завтра", None),
    ("у вас есть вакансии?", None),
    ("можно прийти в офис с собакой", None),
    ("расскажи анекдот", None),
    ("где ближайшая аптека", None),
    ("как приготовить борщ", None),
    ("продаете ли вы автомобили", None),
    ("кто выиграл чемпионат мира по футболу", None),
    ("хочу стать вашим поставщиком", None),
    ("сколько стоит айфон 15", None),
    ("во сколько открывается магазин на тверской", None),
    ("какой курс доллара", None),
    ("посоветуй фильм на вечер", None),
    ("как пройти собеседование", None),
]

EN: list[tuple[str, str | None]] = [
    # delivery
    ("how lnog is shiping", "delivery-time"),
    ("when will my package arrive", "delivery-time"),
    ("how many days to deliver to Kazan", "delivery-time"),
    ("is shipping free?", "delivery-cost"),
    ("what's the delivery fee for courier", "delivery-cost"),
    ("how much does shiping cost", "delivery-cost"),
    ("where is my parcel", "delivery-tracking"),
    ("how do i trak my order", "delivery-tracking"),
    ("do you ship to Germany?", "delivery-regions"),
    ("do you deliver internationally", "delivery-regions"),
    ("I need to change my shipping address", "delivery-change-address"),
    ("can I pick up the order myself", "delivery-pickup"),
    ("how long will the parcel stay at the pickup point", "delivery-pickup"),
    ("my order still hasn't arrived", "delivery-late"),
    ("package is lost", "delivery-late"),
    # returns
    ("how to return something", "returns-how"),
    ("I want to send back a jacket", "returns-how"),
    ("what's your return policy", "returns-how"),
    ("how long do I have to return", "returns-deadline"),
    ("can I still return after 3 weeks", "returns-deadline"),
    ("when do I get my money back", "returns-refund-time"),
    ("still waiting for my refund", "returns-refund-time"),
    ("refnud", "returns-refund-time"),
    ("item arrived broken", "returns-damaged"),
    ("you sent me the wrong item", "returns-damaged"),
    ("can I swap for a bigger size", "returns-exchange"),
    ("can I return swimwear", "returns-non-returnable"),
    # payment
    ("what payment methods do you take", "payment-methods"),
    ("can I pay cash on delivery", "payment-methods"),
    ("my card was declined", "payment-failed"),
    ("payment doesnt work", "payment-failed"),
    ("I need an invoice for my company", "payment-invoice"),
    ("can i pay in instalments", "payment-installments"),
    ("I got charged two times", "payment-charged-twice"),
    ("where do I enter a coupon code", "payment-promo-code"),
    ("promocode", "payment-promo-code"),
    # loyalty
    ("how do i get bonus points", "loyalty-earn"),
    ("how much cashback do I get", "loyalty-earn"),
    ("can I use my points to pay", "loyalty-spend"),
    ("do points expire", "loyalty-expiry"),
    ("what do i need for gold status", "loyalty-tiers"),
    ("referral program", "loyalty-referral"),
    ("do you give anything for birthday", "loyalty-birthday"),
    ("how many points have I got", "loyalty-balance"),
    ("didnt get points for my last purchase", "loyalty-missing-points"),
    # account
    ("how to update my email address", "account-change-email"),
    ("please delete my account", "account-delete"),
    ("how do I connect my telegram", "account-link-telegram"),
    ("I can't sign in", "account-login"),
    ("stop sending me emails", "account-notifications"),
    # subscription
    ("how much is plus", "subscription-price"),
    ("what do I get with the subscription", "subscription-price"),
    ("can i freeze my membership", "subscription-pause"),
    ("cancel my subscription", "subscription-cancel"),
    ("how to switch to annual plan", "subscription-change-plan"),
    ("when is my next payment for plus", "subscription-renewal"),
    # not in the FAQ
    ("can I bring my dog to the office", None),
    ("what's the weather tomorrow", None),
    ("tell me a joke", None),
    ("are you hiring", None),
    ("who won the football world cup", None),
    ("how do I cook pasta", None),
    ("what is the capital of France", None),
    ("do you sell cars", None),
    ("how much does an iphone 15 cost", None),
    ("what time does your store on Tverskaya open", None),
    ("recommend a good movie", None),
    ("I want to become your supplier", None),
    ("hi there", None),
]

# Written after the matcher was tuned on RU and EN above and never tuned on: shows how well the
# figures carry over to questions the design has not seen.
HOLDOUT_RU: list[tuple[str, str | None]] = [
    ("через сколько дней придет посылка в Самару", "delivery-time"),
    ("у вас доставка платная?", "delivery-cost"),
    ("не могу найти трек номер", "delivery-tracking"),
    ("отправляете заказы в казахстан", "delivery-regions"),
    ("можно перенести доставку на другой день", "delivery-change-address"),
    ("есть постаматы?", "delivery-pickup"),
    ("посылка потерялась что делать", "delivery-late"),
    ("как вернуть платье", "returns-how"),
    ("сколько ждать возврата денег на карту", "returns-refund-time"),
    ("товар пришел поврежденный", "returns-damaged"),
    ("можно поменять цвет", "returns-exchange"),
    ("можно ли вернуть духи", "returns-non-returnable"),
    ("оплата через сбп есть?", "payment-methods"),
    ("банк отклоняет платеж", "payment-failed"),
    ("как получить кассовый чек", "payment-invoice"),
    ("хочу купить в кредит", "payment-installments"),
    ("списали деньги дважды", "payment-charged-twice"),
    ("где ввести купон", "payment-promo-code"),
    ("сколько баллов можно потратить за один заказ", "loyalty-spend"),
    ("баллы сгорели, почему", "loyalty-expiry"),
    ("как стать вип клиентом", "loyalty-tiers"),
    ("ссылка для друга где взять", "loyalty-referral"),
    ("баллы ко дню рождения", "loyalty-birthday"),
    ("какой у меня баланс бонусов", "loyalty-balance"),
    ("хочу сменить почту", "account-change-email"),
    ("хочу удалить свой профиль", "account-delete"),
    ("как подключить уведомления в телеграм", "account-link-telegram"),
    ("не приходит код для входа", "account-login"),
    ("слишком много рекламы присылаете", "account-notifications"),
    ("сколько стоит годовая подписка", "subscription-price"),
    ("поставить подписку на паузу", "subscription-pause"),
    ("как отключить подписку плюс", "subscription-cancel"),
    ("когда закончится моя подписка", "subscription-renewal"),
    ("сколько вам лет", None),
    ("где купить билеты в кино", None),
    ("напиши стих", None),
    ("можно ли у вас заказать пиццу", None),
    ("какой сегодня день недели", None),
    ("как похудеть к лету", None),
]

HOLDOUT_EN: list[tuple[str, str | None]] = [
    ("how quickly do you deliver", "delivery-time"),
    ("is there a charge for delivery", "delivery-cost"),
    ("tracking link doesn't work", "delivery-tracking"),
    ("can you ship to Armenia", "delivery-regions"),
    ("I moved, can you deliver to my new address", "delivery-change-address"),
    ("where can I collect my parcel", "delivery-pickup"),
    ("courier never showed up", "delivery-late"),
    ("how do I send an item back", "returns-how"),
    ("is there a deadline for returns", "returns-deadline"),
    ("refund hasn't arrived yet", "returns-refund-time"),
    ("the product is defective", "returns-damaged"),
    ("these shoes are too small, can I get a larger pair", "returns-exchange"),
    ("do you accept mastercard", "payment-methods"),
    ("transaction declined", "payment-failed"),
    ("can I get a VAT invoice", "payment-invoice"),
    ("buy now pay later options?", "payment-installments"),
    ("my discount code is not working", "payment-promo-code"),
    ("how do loyalty points work", "loyalty-earn"),
    ("redeem my bonus points", "loyalty-spend"),
    ("when do my points run out", "loyalty-expiry"),
    ("how do I become gold member", "loyalty-tiers"),
    ("invite friends bonus", "loyalty-referral"),
    ("birthday present", "loyalty-birthday"),
    ("check my point balance", "loyalty-balance"),
    ("change my phone number", "account-change-email"),
    ("remove all my personal data", "account-delete"),
    ("login code not coming", "account-login"),
    ("unsubscribe from newsletter", "account-notifications"),
    ("is there a free trial of plus", "subscription-price"),
    ("pause plus for a month", "subscription-pause"),
    ("I want to end my subscription", "subscription-cancel"),
    ("switch from monthly to yearly", "subscription-change-plan"),
    ("when will I be billed for the subscription", "subscription-renewal"),
    ("what's your favourite colour", None),
    ("book me a taxi", None),
    ("how old are you", None),
    ("translate this into French", None),
    ("I'd like to order a pizza", None),
    ("what's the meaning of life", None),
]

CASES = [("ru", q, a) for q, a in RU] + [("en", q, a) for q, a in EN]
HOLDOUT = [("ru", q, a) for q, a in HOLDOUT_RU] + [("en", q, a) for q, a in HOLDOUT_EN]


ALL = CASES + HOLDOUT


@dataclass
class Figures:
    top1: float  # answerable: right entry first, kind answer or suggest
    no_match: float  # unanswerable: kind none
    confident: float  # answerable: kind answer and right
    confident_precision: float  # of all "answer" replies, share right
    ranking: float  # answerable: right entry first, whatever the kind (threshold-free)
    answerable: int
    unanswerable: int
    misses: list[str]

    def line(self) -> str:
        return (
            f"top-1 {self.top1:.1%} of {self.answerable} answerable, no-match {self.no_match:.1%} of "
            f"{self.unanswerable} unanswerable, confident answers right {self.confident_precision:.1%} "
            f"(confident and right: {self.confident:.1%} of answerable), "
            f"ranking-only top-1 {self.ranking:.1%}"
        )


# (language, text) -> every entry with a score, best first
Ranker = Callable[[str, str], list[ScoredEntry]]


def evaluate(ranker: Ranker, config: MatchConfig, cases: list[tuple[str, str, str | None]] = ALL) -> Figures:
    top1 = ranking = confident = answered = answered_right = none = n_ans = n_none = 0
    misses = []
    for lang, text, expected in cases:
        ranked = ranker(lang, text)
        match = decide(lang, normalize(text), ranked, config)
        first = ranked[0].entry.id if ranked else None
        got = match.best.id if match.best else None
        if match.kind == "answer":
            answered += 1
            answered_right += got == expected
        if expected is None:
            n_none += 1
            none += match.kind == "none"
            if match.kind != "none":
                misses.append(f"[{lang}] {text!r}: expected none, got {match.kind} {got} ({match.score})")
        else:
            n_ans += 1
            ranking += first == expected
            ok = match.kind != "none" and got == expected
            top1 += ok
            confident += match.kind == "answer" and got == expected
            if not ok:
                misses.append(
                    f"[{lang}] {text!r}: expected {expected}, got {match.kind} {first} ({match.score})"
                )
    return Figures(
        top1=top1 / n_ans,
        no_match=none / n_none,
        confident=confident / n_ans,
        confident_precision=answered_right / answered if answered else 1.0,
        ranking=ranking / n_ans,
        answerable=n_ans,
        unanswerable=n_none,
        misses=misses,
    )


def library_ranker(library: FaqLibrary, config: MatchConfig) -> Ranker:
    return lambda lang, text: library.index(lang).rank(text, config)[1]


def cached(ranker: Ranker, cases: list[tuple[str, str, str | None]] = ALL) -> Ranker:
    table = {(lang, text): ranker(lang, text) for lang, text, _ in cases}
    return lambda lang, text: table[(lang, text)]


@pytest.fixture(scope="module")
def library() -> FaqLibrary:
    return FaqLibrary.from_dir(FAQ_DIR)


def test_labelled_set_is_sound(library: FaqLibrary) -> None:
    for cases in (CASES, HOLDOUT):
        assert len({(lang, text) for lang, text, _ in cases}) == len(cases), "duplicate questions"
    assert sum(1 for c in ALL if c[0] == "ru") >= 35 and sum(1 for c in ALL if c[0] == "en") >= 30
    assert sum(1 for c in ALL if c[2] is None) >= 12
    for lang, _, expected in ALL:
        assert expected is None or library.entry(lang, expected) is not None, expected


def test_quality_on_labelled_set(library: FaqLibrary) -> None:
    ranker = cached(library_ranker(library, library.config))
    dev = evaluate(ranker, library.config, CASES)
    holdout = evaluate(ranker, library.config, HOLDOUT)
    total = evaluate(ranker, library.config, ALL)
    report = f"all: {total.line()}\n  tuning set: {dev.line()}\n  hold-out set: {holdout.line()}" + "".join(
        "\n  miss: " + m for m in total.misses
    )
    print("\nFAQ matcher quality:", report)
    # the library's own search path gives the same results as the evaluation above
    for lang, text, _ in ALL:
        match = library.search(lang, text)
        expected = decide(lang, normalize(text), ranker(lang, text), library.config)
        assert (match.kind, match.best, match.score) == (expected.kind, expected.best, expected.score)
    assert total.top1 >= 0.85, report
    assert total.no_match >= 0.75, report
    assert total.confident_precision >= 0.95, report
    assert holdout.top1 >= 0.8, report


def test_search_is_fast(library: FaqLibrary) -> None:
    big = FaqLibrary()  # 111 entries: the example content three times over
    doc = library.export("ru")
    doc["entries"] = [{**e, "id": f"{e['id']}-{n}"} for n in range(3) for e in doc["entries"]]
    big.replace("ru", doc)
    texts = [text for lang, text, _ in ALL if lang == "ru"]
    started = time.perf_counter()
    for text in texts:  # cold: every word is new to the per-index cache
        big.search("ru", text)
    cold = (time.perf_counter() - started) / len(texts)
    started = time.perf_counter()
    for _ in range(5):
        for text in texts:
            big.search("ru", text)
    warm = (time.perf_counter() - started) / (5 * len(texts))
    print(
        f"\nFAQ search over {len(big.entries('ru'))} entries: {cold * 1000:.2f} ms per query cold, "
        f"{warm * 1000:.2f} ms warm"
    )
    assert cold < 0.005 and warm < 0.005


# --- the alternatives that were measured ---------------------------------------------------------


def fuzzy_ranker(library: FaqLibrary, scorer, *, stem: bool) -> Ranker:  # noqa: ANN001
    """Plain rapidfuzz: the best score of the query against the question and each keyword."""

    def prep(text: str, lang: str) -> str:
        return " ".join(stem_tokens(normalize(text).split(), lang)) if stem else normalize(text)

    prepared = {
        lang: [(e, [prep(p, lang) for p in (e.question, *e.keywords)]) for e in library.entries(lang)]
        for lang in library.languages()
    }

    def rank(lang: str, text: str) -> list[ScoredEntry]:
        query = prep(text, lang)
        if not query:
            return []
        scored = [ScoredEntry(e, max(scorer(query, p) for p in phrases)) for e, phrases in prepared[lang]]
        return sorted((s for s in scored if s.score > 0), key=lambda s: -s.score)

    return rank


def tuned(ranker: Ranker, base: MatchConfig) -> Figures:
    """Figures at the thresholds that suit this ranker best (each variant at its own best):
    the most top-1 + no-match with confident answers at least 95% right."""
    rows = []
    for lang, text, expected in ALL:
        ranked = ranker(lang, text)
        top = ranked[0].score if ranked else 0.0
        gap = top - (ranked[1].score if len(ranked) > 1 else 0.0)
        rows.append((top, gap, ranked[0].entry.id == expected if ranked else False, expected is None))
    n_none = sum(1 for r in rows if r[3])
    n_ans = len(rows) - n_none
    best: tuple[tuple[float, float], MatchConfig] | None = None
    for suggest in range(20, 96, 2):
        for answer in [*range(max(suggest, 40), 100, 5), 101]:  # 101: never confident
            for margin in (5, 10, 15, 20):
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
                if answered and right / answered < 0.95:
                    continue
                goal = (round(top1 / n_ans + none / n_none, 6), confident / n_ans)
                if best is None or goal > best[0]:
                    best = (
                        goal,
                        replace(
                            base, suggest_threshold=suggest, answer_threshold=answer, answer_margin=margin
                        ),
                    )
    assert best is not None
    return evaluate(ranker, best[1])


def test_matcher_variants(library: FaqLibrary) -> None:
    """Prints the comparison quoted in core/faq/__init__.py; no alternative may beat the chosen one."""
    pytest.importorskip("snowballstemmer", reason="the comparison is for the Snowball stemmer")
    chosen = DEFAULT_CONFIG
    variants: list[tuple[str, Ranker, MatchConfig]] = [
        ("chosen (defaults)", library_ranker(library, chosen), chosen),
    ]
    for name, options, config in (
        (
            "exact stems only: no typo/prefix matching",
            DEFAULT_OPTIONS,
            replace(chosen, fuzzy=False, prefix_len=0, verb_prefixes=False),
        ),
        ("no phrase blend (coverage only)", DEFAULT_OPTIONS, replace(chosen, phrase_weight=0)),
        ("phrase blend without query share", DEFAULT_OPTIONS, replace(chosen, phrase_mode="phrase")),
        ("no stemmer (typo + prefix matching on words)", replace(DEFAULT_OPTIONS, stemming=False), chosen),
        ("question words dropped as stop words", replace(DEFAULT_OPTIONS, question_words=False), chosen),
        ("negations dropped as stop words", replace(DEFAULT_OPTIONS, negation=False), chosen),
        ("answer text also in idf", replace(DEFAULT_OPTIONS, answers_in_idf=True), chosen),
        ("answer text ignored", DEFAULT_OPTIONS, replace(chosen, answer_weight=0)),
    ):
        lib = library if options == DEFAULT_OPTIONS else FaqLibrary.from_dir(FAQ_DIR, options=options)
        variants.append((name, library_ranker(lib, config), config))
    for name, scorer, stem in (
        ("rapidfuzz WRatio, raw text", fuzz.WRatio, False),
        ("rapidfuzz token_set_ratio, stop words out", fuzz.token_set_ratio, False),
        ("rapidfuzz WRatio on stems", fuzz.WRatio, True),
        ("rapidfuzz token_set_ratio on stems", fuzz.token_set_ratio, True),
    ):
        variants.append((name, fuzzy_ranker(library, scorer, stem=stem), chosen))

    rows = []
    for name, ranker, config in variants:
        ranker = cached(ranker)
        rows.append((name, evaluate(ranker, config), tuned(ranker, config)))
    print(
        "\nFAQ matcher variants on all labelled questions "
        "(top-1 / no-match / confident answers right; at our thresholds | at the variant's best thresholds):"
    )
    for name, f, t in rows:
        print(
            f"  {name:46s} {f.top1:6.1%} {f.no_match:6.1%} {f.confident_precision:6.1%} | "
            f"{t.top1:6.1%} {t.no_match:6.1%} {t.confident_precision:6.1%}  ranking {f.ranking:6.1%}"
        )
    # No alternative beats the chosen matcher on both counts, each at its own best thresholds (the
    # shipped thresholds are measured on the customer-style set, tests/unit/test_faq_customer_set.py;
    # one question is 0.5% of the answerable ones; differences below 1% are noise).
    chosen_figures = rows[0][2]
    for name, _, t in rows[1:]:
        dominated = t.top1 > chosen_figures.top1 + 0.01 and t.no_match >= chosen_figures.no_match
        assert not dominated, f"{name} beats the chosen matcher: {t.line()}"
