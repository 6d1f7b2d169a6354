"""Templates are data, not code; a campaign that could send a broken message is refused up front."""

from __future__ import annotations

import pytest

from core.errors import Invalid
from core.outreach import playbooks, templates
from core.outreach.campaigns import CampaignInput, plan
from core.outreach.playbooks import PlaybookOptions
from core.outreach.rules import OutreachRules
from core.outreach.segments import SegmentSpec

RULES = OutreachRules()


def step(text: str = "Hi {name|there}", **extra: object) -> dict[str, object]:
    return {"delay_seconds": 0, "templates": {"en": text}, "buttons": [], "offer": None, **extra}


def test_render_substitutes_and_falls_back() -> None:
    t = templates.parse("Hi {name|friend}, you have {balance} points at {shop}. {{not a var}}")
    assert t.render({"name": "Anna", "balance": 120, "shop": "Demo"}) == (
        "Hi Anna, you have 120 points at Demo. {not a var}"
    )
    assert t.render({"name": None, "balance": 0, "shop": "Demo"}).startswith("Hi friend,")


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("Hi {name.__class__}", "template_unknown_variable"),
        ("Hi {name!r}", "template_unknown_variable"),
        ("Hi {name:>10}", "template_unknown_variable"),
        ("{__import__('os').system('id')}", "template_unknown_variable"),
        ("Hi {password}", "template_unknown_variable"),
        ("Hi {name", "template_syntax"),
        ("Hi name}", "template_syntax"),
        ("   ", "template_syntax"),
        ("x" * 4090 + "{last_product}", "template_too_long"),
    ],
)
def test_refused_templates(source: str, code: str) -> None:
    with pytest.raises(Invalid) as err:
        templates.parse(source)
    assert err.value.code == code


def test_values_cannot_inject_anything() -> None:
    t = templates.parse("Hello {name}!")
    assert t.render({"name": "{shop}\x00\n<b>x</b>"}) == "Hello {shop} <b>x</b>!"
    assert len(t.render({"name": "A" * 500})) <= len("Hello !") + 64


def test_needs_data_only_without_fallback() -> None:
    assert templates.needs_data(templates.parse("{name} {last_product|our news} {shop}")) == {"name"}
    assert templates.needs_offer(templates.parse("Use {promo_code} for {discount}%")) == {
        "promo_code",
        "discount",
    }


def test_playbook_texts_have_the_same_keys_in_every_language() -> None:
    langs = playbooks.languages()
    assert set(langs) >= {"en", "ru"}
    for lang in langs:
        assert playbooks.text_keys(lang) == playbooks.text_keys("en"), lang


@pytest.mark.parametrize("name", playbooks.NAMES)
@pytest.mark.parametrize("promo", [None, "BACK10"])
def test_every_playbook_plans_cleanly(name: str, promo: str | None) -> None:
    p = plan(CampaignInput(name=name, playbook=name, options=PlaybookOptions(promo_code=promo)), rules=RULES)
    assert p.steps and p.segment is not None
    for parsed in p.parsed:
        assert set(parsed) == {"en", "ru"}


def test_winback_default_is_question_then_gift_two_weeks_later() -> None:
    p = plan(
        CampaignInput(name="wb", playbook="winback", options=PlaybookOptions(promo_code="BACK10")),
        rules=RULES,
    )
    assert p.segment == SegmentSpec("dormant")
    assert p.steps[0]["buttons"] == [{"kind": "exit_interview"}]
    assert p.steps[1]["delay_seconds"] == 14 * 86400
    assert p.steps[1]["offer"] == {"promo_code": "BACK10", "discount_percent": 10}
    assert p.rules["exit_on"] == ["reply", "purchase", "opt_out"]
    assert p.rules["goal"] == {"kind": "purchase", "days": 30}
    assert p.holdout == RULES.default_holdout


@pytest.mark.parametrize(
    ("inp", "code"),
    [
        (CampaignInput(name="x", segment=SegmentSpec("dormant")), "steps_required"),
        (CampaignInput(name="x", steps=(step(),)), "audience_required"),
        (
            CampaignInput(name="x", steps=(step(),), segment=SegmentSpec("dormant"), customer_ids=(1,)),
            "audience_ambiguous",
        ),
        (
            CampaignInput(name="x", steps=(step("Code {promo_code}"),), customer_ids=(1,)),
            "template_needs_offer",
        ),
        (
            CampaignInput(name="x", steps=({"templates": {"ru": "Привет"}},), customer_ids=(1,)),
            "template_missing_language",
        ),
        (
            CampaignInput(name="x", steps=(step(),), customer_ids=(1,), send_window="22:00-23:00"),
            "invalid_window",
        ),
        (
            CampaignInput(name="x", steps=(step(),), customer_ids=(1,), paid_max_stars=5),
            "paid_broadcast_disabled",
        ),
        (
            CampaignInput(
                name="x",
                steps=(step(),),
                customer_ids=(1,),
                webhook_url="https://b.example/h",
                webhook_secret="short",
            ),
            "invalid_webhook",
        ),
        (
            CampaignInput(
                name="x",
                steps=(step(buttons=[{"kind": "url", "text": {"en": "Go"}, "url": "javascript:x"}]),),
                customer_ids=(1,),
            ),
            "invalid_button",
        ),
        (CampaignInput(name="x", steps=(step(),), customer_ids=(1,), holdout=0.9), "invalid_holdout"),
        (CampaignInput(name="x", steps=(step(),), customer_ids=(1,), exit_on=("never",)), "invalid_exit_on"),
        (CampaignInput(name="x", playbook="nope"), "unknown_playbook"),
    ],
)
def test_refused_campaigns(inp: CampaignInput, code: str) -> None:
    with pytest.raises(Invalid) as err:
        plan(inp, rules=RULES)
    assert err.value.code == code


def test_paid_budget_is_capped_by_settings() -> None:
    rules = OutreachRules(paid_max_stars=100)
    p = plan(CampaignInput(name="x", steps=(step(),), customer_ids=(1,), paid_max_stars=50), rules=rules)
    assert p.paid_max_messages == 500  # 0.1 Star per message
    with pytest.raises(Invalid, match="at most 100"):
        plan(CampaignInput(name="x", steps=(step(),), customer_ids=(1,), paid_max_stars=101), rules=rules)


def test_single_messages_have_no_holdout_by_default() -> None:
    p = plan(CampaignInput(name="m", kind="message", steps=(step(),), customer_ids=(7,)), rules=RULES)
    assert p.holdout == 0 and p.customer_ids == (7,)
