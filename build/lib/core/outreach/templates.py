"""Message templates: `{variable}` or `{variable|fallback}` substitution, nothing else.

No expression is evaluated, no attribute or index is looked up, no format spec is applied: a
template is split once into literal text and variable names from a fixed list, so a template
cannot run code or reach into objects. `{{` and `}}` stand for literal braces.

Everything that can be wrong is found when the campaign is created: a syntax error, an unknown
variable, a promo code the step does not define, a variable some recipient has no value for
(give a fallback: `{name|friend}`), a text that could exceed Telegram's 4,096 UTF-16 units.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import Invalid
from core.text_limits import truncate, utf16_len

MAX_TEXT = 4096
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|\{|\}")
_NAME = re.compile(r"^[a-z_]{1,32}$")

# name -> (description, longest value rendered, may be missing for some customers)
VARIABLES: dict[str, tuple[str, int, bool]] = {
    "name": ("the customer's first name (or @username)", 64, True),
    "shop": ("the business name (BUSINESS_NAME)", 64, False),
    "balance": ("spendable loyalty points", 16, False),
    "tier": ("loyalty tier, in the customer's language", 32, False),
    "last_product": ("the last product they bought or looked at (from events)", 128, True),
    "days_since_last_order": ("whole days since their last order", 8, True),
    "promo_code": ("the step's promo code (offer.promo_code)", 64, False),
    "discount": ("the step's discount in percent (offer.discount_percent)", 4, False),
    "expires_on": ("the subscription's end date, in the customer's language", 40, True),
    "cart_items": ("what is in the abandoned cart", 256, True),
}
OFFER_VARIABLES = {"promo_code": "promo_code", "discount": "discount_percent"}


class TemplateError(Invalid):
    code = "invalid_template"


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    fallback: str | None


Part = str | Var


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    parts: tuple[Part, ...]

    @property
    def variables(self) -> tuple[Var, ...]:
        return tuple(p for p in self.parts if isinstance(p, Var))

    def max_length(self) -> int:
        """The longest text this template can render to, in UTF-16 code units as Telegram
        counts them (an emoji is 2); a variable's value is capped at its limit in those units."""
        total = 0
        for p in self.parts:
            if isinstance(p, str):
                total += utf16_len(p)
            else:
                total += max(VARIABLES[p.name][1], utf16_len(p.fallback or ""))
        return total

    def render(self, values: Mapping[str, object | None]) -> str:
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            value = values.get(p.name)
            text = clean(value, VARIABLES[p.name][1]) if value not in (None, "") else ""
            out.append(text or (p.fallback or ""))
        return "".join(out).strip()


def clean(value: object, limit: int) -> str:
    """A value as plain text: control characters dropped, whitespace folded, length capped."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in str(value))
    text = " ".join(text.split())
    return truncate(text, limit)


def parse(source: str, *, where: str = "template") -> Template:
    """Split a template into literals and variables, refusing anything else."""
    parts: list[Part] = []
    pos = 0
    for m in _TOKEN.finditer(source):
        if m.start() > pos:
            parts.append(source[pos : m.start()])
        token = m.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif token in ("{", "}"):
            raise TemplateError(
                f"{where}: unbalanced '{token}' at character {m.start() + 1} (write {token * 2} for a "
                "literal brace)",
                code="template_syntax",
                details={"where": where, "at": m.start() + 1},
            )
        else:
            inner = m.group(1)
            name, bar, fallback = inner.partition("|")
            name = name.strip()
            if not _NAME.match(name) or name not in VARIABLES:
                raise TemplateError(
                    f"{where}: unknown variable {{{name}}}",
                    code="template_unknown_variable",
                    details={"where": where, "variable": name, "known": sorted(VARIABLES)},
                )
            parts.append(Var(name, fallback.strip() if bar else None))
        pos = m.end()
    if pos < len(source):
        parts.append(source[pos:])
    merged: list[Part] = []
    for p in parts:  # join adjacent literals
        if merged and isinstance(p, str) and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + p
        else:
            merged.append(p)
    template = Template(source, tuple(merged))
    if template.max_length() > MAX_TEXT:
        raise TemplateError(
            f"{where}: may render longer than Telegram's {MAX_TEXT} characters",
            code="template_too_long",
            details={"where": where, "max_length": template.max_length()},
        )
    if not any(isinstance(p, str) and p.strip() for p in template.parts) and not template.variables:
        raise TemplateError(f"{where}: empty text", code="template_syntax", details={"where": where})
    return template


def needs_data(template: Template) -> set[str]:
    """Variables without a fallback whose value some customers may lack."""
    return {v.name for v in template.variables if v.fallback is None and VARIABLES[v.name][2]}


def needs_offer(template: Template) -> set[str]:
    return {v.name for v in template.variables if v.name in OFFER_VARIABLES and v.fallback is None}
