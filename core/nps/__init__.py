"""NPS surveys: eligibility and scheduling, the send queue, answers, detractor alerts, the report.

- `rules`: pure rules (categories, the NPS value, throttles), built from settings;
- `surveys`: who may be asked, scheduling (API, after support cases and first purchases), sending;
- `answers`: score and comment, the detractor alert and the support case it may open;
- `report`: the report and the list of responses (queries).

The use cases are re-exported here (`from core import nps; nps.record_score(...)`).
"""

from __future__ import annotations

from core.nps.answers import (
    Finished,
    MenuRating,
    ScoreResult,
    alerts_due,
    finish,
    get_survey,
    last_response,
    open_detractor_case,
    own_survey,
    queue_staff_alert,
    rate_from_menu,
    record_comment,
    record_score,
    start_from_menu,
)
from core.nps.report import (
    NpsBreakdown,
    NpsReport,
    ResponseView,
    report,
    responses,
)
from core.nps.surveys import (
    LIVE,
    MAX_LISTED_SKIPS,
    QUEUE,
    SEGMENTS,
    TRIGGERS,
    OutgoingSurvey,
    SurveyView,
    TriggerResult,
    claim_surveys,
    expire_surveys,
    histories,
    recover_surveys,
    schedule,
    schedule_after_first_purchase,
    schedule_after_support_cases,
    survey_failed,
    survey_sent,
    trigger_from_api,
)

__all__ = [
    "LIVE",
    "MAX_LISTED_SKIPS",
    "NpsBreakdown",
    "NpsReport",
    "OutgoingSurvey",
    "QUEUE",
    "ResponseView",
    "SEGMENTS",
    "Finished",
    "MenuRating",
    "ScoreResult",
    "SurveyView",
    "TRIGGERS",
    "TriggerResult",
    "alerts_due",
    "claim_surveys",
    "expire_surveys",
    "finish",
    "get_survey",
    "histories",
    "last_response",
    "open_detractor_case",
    "own_survey",
    "queue_staff_alert",
    "rate_from_menu",
    "record_comment",
    "record_score",
    "recover_surveys",
    "report",
    "responses",
    "schedule",
    "schedule_after_first_purchase",
    "schedule_after_support_cases",
    "start_from_menu",
    "survey_failed",
    "survey_sent",
    "trigger_from_api",
]
