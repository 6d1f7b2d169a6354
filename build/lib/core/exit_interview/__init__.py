"""Exit interviews: why customers leave, the save offer, requested features, the report.

- `rules`: the reasons, `ExitRules` (built from settings) and how feature names are matched;
- `interviews`: starting one (API, menu), the answers and what each does;
- `sending`: the send queue;
- `promos`: promo codes (the save offer, loading codes, looking one up);
- `report`: requested features ('it shipped' news) and the report (queries).

The use cases are re-exported here (`from core import exit_interview; exit_interview.report(...)`).
"""

from __future__ import annotations

from core.exit_interview.interviews import (
    LIVE,
    QUEUE,
    DetailOutcome,
    InterviewView,
    ReasonOutcome,
    answer_reason,
    choose_reason,
    get_interview,
    hand_over,
    last_interview,
    request_from_api,
    set_break,
    set_detail,
    set_may_write,
    start_from_menu,
    take_break,
)
from core.exit_interview.promos import (
    PromoView,
    assign_save_offer,
    get_promo,
    load_promo_codes,
)
from core.exit_interview.report import (
    ExitReport,
    FeatureLine,
    ReasonLine,
    ShipResult,
    feature_shipped,
    report,
)
from core.exit_interview.rules import (
    DETAIL_REASONS,
    HANDOVER_REASONS,
    MAX_BREAK,
    REASONS,
    ExitRules,
    add_months,
    break_until,
    feature_key,
)
from core.exit_interview.sending import (
    OutgoingInterview,
    claim_interviews,
    expire_interviews,
    interview_failed,
    interview_sent,
    recover_interviews,
)

__all__ = [
    "DETAIL_REASONS",
    "DetailOutcome",
    "ExitReport",
    "ExitRules",
    "FeatureLine",
    "HANDOVER_REASONS",
    "InterviewView",
    "LIVE",
    "MAX_BREAK",
    "OutgoingInterview",
    "PromoView",
    "QUEUE",
    "REASONS",
    "ReasonLine",
    "ReasonOutcome",
    "ShipResult",
    "add_months",
    "answer_reason",
    "assign_save_offer",
    "break_until",
    "choose_reason",
    "claim_interviews",
    "expire_interviews",
    "feature_key",
    "feature_shipped",
    "get_interview",
    "get_promo",
    "hand_over",
    "interview_failed",
    "interview_sent",
    "last_interview",
    "load_promo_codes",
    "recover_interviews",
    "report",
    "request_from_api",
    "set_break",
    "set_detail",
    "set_may_write",
    "start_from_menu",
    "take_break",
]
