#!/usr/bin/env python
"""Benchmark: matching one customer message against an FAQ of 500 entries per language.

    .venv/bin/python bench/faq_match.py                 # 500 entries per language (the issue's target)
    .venv/bin/python bench/faq_match.py --entries 1000 --rounds 5

The shipped FAQ (43 entries per language) is extended with synthetic but realistic entries: a
shop's product care, sizing, availability, warranty, store and service questions built from
lists of products, materials, cities and services, each with keywords, synonyms, an answer of a
few sentences and a made-up model name (so the vocabulary grows like a real catalogue's: about
2,000 distinct terms per language, the number is printed), plus 100 approved learned phrasings.
The queries are every message of the customer-style test set in
that language (tests/data/faq_customer_set, 368 per language: short, long, typos, Latin-typed
Russian, wrong layout). Each message is matched once "cold" (a fresh index: every word is new to
the per-index cache, the worst case after a content change) and then `--rounds` times warm.

Target (issue 13): under 5 ms per message. Prints median, p90, p99 and max per language, as wall
time and as this thread's CPU time (`*_cpu`: the same without the time the process waited for a
core; on a shared machine wall-time tails grow with the load of others); the figures also go to
bench/results/faq_match.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from core.faq import FaqLibrary  # noqa: E402

TARGET_MS = 5.0

WORDS = {
    "en": {
        "products": "sofa armchair wardrobe mattress pillow duvet blanket towel bathrobe kettle toaster "
        "blender "
        "vacuum cleaner iron frying pan saucepan knife set plate mug glass vase lamp chandelier curtain rug "
        "carpet jacket coat parka raincoat jeans trousers shirt blouse dress skirt sweater hoodie cardigan "
        "t-shirt sneakers boots sandals loafers backpack handbag wallet belt scarf gloves hat watch "
        "headphones speaker smartphone case charger powerbank tablet laptop stand keyboard mouse monitor "
        "router camera tripod bicycle helmet scooter tent sleeping bag thermos yoga mat dumbbells "
        "stroller car seat crib high chair toy car doll puzzle board game lego perfume shampoo cream "
        "serum lipstick mascara razor toothbrush hair dryer straightener".split(),
        "materials": "cotton linen wool cashmere silk leather suede denim polyester nylon bamboo oak pine "
        "glass ceramic porcelain steel aluminium cast iron silicone rubber".split(),
        "cities": "moscow kazan novosibirsk yekaterinburg samara omsk ufa perm voronezh volgograd krasnodar "
        "sochi tula tver yaroslavl irkutsk khabarovsk vladivostok murmansk kaliningrad".split(),
        "services": "assembly installation engraving gift wrapping tailoring repair cleaning setup "
        "delivery to the floor recycling of the old item extended warranty insurance".split(),
        "templates": [
            (
                "How do I care for a {m} {p}?",
                "care {p}, wash {p}, clean {m}, {m} care instructions",
                "Wash or clean the {p} as shown on the label: {m} keeps its shape best at low temperatures."
                " Do not tumble dry and store it away from direct sunlight."
                " Stains come off with a mild soap.",
            ),
            (
                "Is the {p} available in other sizes?",
                "{p} sizes, size chart {p}, bigger {p}, smaller {p}",
                "Every {p} page has a size chart. If your size is sold out, press 'Notify me'"
                " and we will write"
                " to you when it is back; most sizes are restocked within two weeks.",
            ),
            (
                "What is the warranty on the {p}?",
                "{p} warranty, {p} broke, guarantee {p}",
                "The {p} has a 2-year warranty from the day you received it. Keep the receipt; we repair or"
                " replace it for free, and if that is impossible we refund you in full.",
            ),
            (
                "Do you offer {s} for the {p}?",
                "{s} {p}, {p} {s} price, order {s}",
                "Yes, {s} for the {p} can be added at checkout. The price depends on your city and is shown"
                " before you pay; the date is agreed with you by phone.",
            ),
            (
                "Can I see the {p} in your {c} store?",
                "{c} store, {p} in store, showroom {c}, try {p}",
                "Our {c} showroom has most of the {p} range on display. Check availability on the product"
                " page under 'In stores' and reserve it to try it on the spot for free.",
            ),
            (
                "Is the {m} in the {p} natural?",
                "natural {m}, real {m} {p}, {p} composition, {m} quality",
                "The composition of every {p} is listed on its page. Items marked 'natural {m}' contain at"
                " least 90% natural material and are certified by an independent lab.",
            ),
        ],
    },
    "ru": {
        "products": "диван кресло шкаф матрас подушка одеяло плед полотенце халат чайник тостер блендер "
        "пылесос утюг сковорода кастрюля нож тарелка кружка стакан ваза лампа люстра штора ковер куртка "
        "пальто парка плащ джинсы брюки рубашка блузка платье юбка свитер худи кардиган футболка кроссовки "
        "ботинки сандалии лоферы рюкзак сумка кошелек ремень шарф перчатки шапка часы наушники колонка "
        "смартфон чехол зарядка повербанк планшет ноутбук подставка клавиатура мышь монитор роутер камера "
        "штатив велосипед шлем самокат палатка спальник термос коврик гантели коляска автокресло кроватка "
        "стульчик машинка кукла пазл настолка конструктор духи шампунь крем сыворотка помада тушь бритва "
        "щетка фен утюжок".split(),
        "materials": "хлопок лен шерсть кашемир шелк кожа замша деним полиэстер нейлон бамбук дуб сосна "
        "стекло керамика фарфор сталь алюминий чугун силикон резина".split(),
        "cities": "москва казань новосибирск екатеринбург самара омск уфа пермь воронеж волгоград краснодар "
        "сочи тула тверь ярославль иркутск хабаровск владивосток мурманск калининград".split(),
        "services": "сборка установка гравировка подарочная упаковка подгонка ремонт чистка настройка "
        "подъем на этаж вывоз старой вещи расширенная гарантия страховка".split(),
        "templates": [
            (
                "Как ухаживать за изделием: {p} ({m})?",
                "уход {p}, стирка {p}, чистка {m}, как стирать {m}",
                "Стирайте или чистите {p} так, как указано на ярлыке: {m} лучше держит форму при низкой"
                " температуре. Не сушите в машине и храните вдали от солнца. Пятна снимает мягкое мыло.",
            ),
            (
                "Есть ли другие размеры: {p}?",
                "размеры {p}, таблица размеров {p}, {p} больше, {p} меньше",
                "На странице каждого товара есть таблица размеров. Если вашего размера нет, нажмите"
                " «Сообщить о поступлении» — большинство размеров возвращается в течение двух недель.",
            ),
            (
                "Какая гарантия на товар: {p}?",
                "гарантия {p}, {p} сломался, гарантийный ремонт {p}",
                "Гарантия на {p} — 2 года со дня получения. Сохраните чек: мы бесплатно отремонтируем или"
                " заменим товар, а если это невозможно, вернём деньги полностью.",
            ),
            (
                "Есть ли услуга «{s}» для товара {p}?",
                "{s} {p}, цена {s}, заказать {s}",
                "Да, «{s}» для товара {p} можно добавить при оформлении. Цена зависит от города и видна до"
                " оплаты; дату мы согласуем с вами по телефону.",
            ),
            (
                "Можно посмотреть {p} в магазине в городе {c}?",
                "магазин {c}, {p} в магазине, шоурум {c}",
                "В шоуруме в городе {c} представлена большая часть ассортимента ({p} тоже). Наличие видно на"
                " странице товара в разделе «В магазинах»; товар можно бесплатно отложить и примерить.",
            ),
            (
                "Натуральный ли материал {m} в товаре {p}?",
                "натуральный {m}, {p} состав, качество {m}",
                "Состав каждого товара указан на его странице. Вещи с пометкой «натуральный {m}» содержат не"
                " меньше 90% натурального материала и сертифицированы независимой лабораторией.",
            ),
        ],
    },
}


SYLLABLES = {
    "en": "ka lo mi nor vex ta bri sol den ar vik lu ri zen mo pa tor el fin gra".split(),
    "ru": "ка ло ми нор вес та бри сол ден ар вик лу ри зен мо па тор эль фин гра".split(),
}


def model_name(language: str, rnd: random.Random) -> str:
    """A made-up product line name ("Brisolden"): catalogues are full of them."""
    return "".join(rnd.choice(SYLLABLES[language]) for _ in range(rnd.randint(2, 4)))


def build(language: str, entries: int, rnd: random.Random) -> dict:
    base = yaml.safe_load((ROOT / "faq" / f"{language}.yaml").read_text(encoding="utf-8"))
    words = WORDS[language]
    base["categories"].append({"id": "products", "title": "Products"})
    seen = {e["id"] for e in base["entries"]}
    n = 0
    while len(base["entries"]) < entries:
        question, keywords, answer = rnd.choice(words["templates"])
        fill = {
            "p": rnd.choice(words["products"]),
            "m": rnd.choice(words["materials"]),
            "c": rnd.choice(words["cities"]),
            "s": rnd.choice(words["services"]),
        }
        n += 1
        entry_id = f"product-{n}"
        if entry_id in seen:
            continue
        model = model_name(language, rnd)
        base["entries"].append(
            {
                "id": entry_id,
                "category": "products",
                "question": f"{question.format(**fill)} ({model})",
                "answer": f"{answer.format(**fill)} {model_name(language, rnd).title()} {model.title()}.",
                "keywords": [k.strip() for k in keywords.format(**fill).split(",")]
                + [f"{model} {fill['p']}"],
                "synonyms": [fill["p"], f"{fill['p']} {fill['m']}", model_name(language, rnd)],
            }
        )
    return base


def learned_phrasings(language: str, rnd: random.Random, count: int = 100) -> dict[str, list[str]]:
    cases = yaml.safe_load(
        (ROOT / "tests" / "data" / "faq_customer_set" / f"{language}.yaml").read_text(encoding="utf-8")
    )
    out: dict[str, list[str]] = {}
    for case in rnd.sample([c for c in cases if c["entry"]], count):
        out.setdefault(case["entry"], []).append(case["text"][:100])
    return out


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=500, help="entries per language (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds over the messages")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    results = {}
    print(f"FAQ match time per message, {args.entries} entries per language (target < {TARGET_MS} ms)")
    for language in ("en", "ru"):
        library = FaqLibrary()
        started = time.perf_counter()
        library.replace(language, build(language, args.entries, rnd))
        library.set_learned({language: learned_phrasings(language, rnd)})
        built_ms = (time.perf_counter() - started) * 1000
        index = library.index(language)
        vocabulary = len(index._idf)  # noqa: SLF001 - reported only
        cases = yaml.safe_load(
            (ROOT / "tests" / "data" / "faq_customer_set" / f"{language}.yaml").read_text(encoding="utf-8")
        )
        texts = [c["text"] for c in cases]
        gc.collect()
        gc.disable()
        try:
            cold, cold_cpu = [], []
            for text in texts:
                t0, c0 = time.perf_counter(), time.thread_time()
                library.search(language, text)
                cold.append((time.perf_counter() - t0) * 1000)
                cold_cpu.append((time.thread_time() - c0) * 1000)
            warm, warm_cpu = [], []
            for _ in range(args.rounds):
                for text in texts:
                    t0, c0 = time.perf_counter(), time.thread_time()
                    library.search(language, text)
                    warm.append((time.perf_counter() - t0) * 1000)
                    warm_cpu.append((time.thread_time() - c0) * 1000)
        finally:
            gc.enable()
        row = {}
        for name, values in (("cold", cold), ("warm", warm), ("cold_cpu", cold_cpu), ("warm_cpu", warm_cpu)):
            row[name] = {
                "messages": len(values),
                "median_ms": round(statistics.median(values), 3),
                "p90_ms": round(percentile(values, 90), 3),
                "p99_ms": round(percentile(values, 99), 3),
                "max_ms": round(max(values), 3),
            }
        row["entries"] = len(library.entries(language))
        row["vocabulary_terms"] = vocabulary
        row["index_build_ms"] = round(built_ms, 1)
        results[language] = row
        print(f"  {language}: {row['entries']} entries, {vocabulary} terms, index built in {built_ms:.0f} ms")
        for name in ("cold", "warm", "cold_cpu", "warm_cpu"):
            r = row[name]
            verdict = "ok" if r["p99_ms"] < TARGET_MS else "OVER TARGET"
            print(
                f"    {name:8s} {r['messages']:5d} messages: median {r['median_ms']:.3f} ms, "
                f"p90 {r['p90_ms']:.3f} ms,"
                f" p99 {r['p99_ms']:.3f} ms, max {r['max_ms']:.3f} ms  [{verdict}]"
            )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "faq_match.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"  written to {out / 'faq_match.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
