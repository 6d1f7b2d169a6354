"""Campaigns: create (idempotent), dry run, pause / resume / cancel, status and uplift.

Creating a campaign picks its audience (a segment, or an explicit list), sets a random but
stable holdout aside, and queues step 1 for everyone else; later steps are queued by the
scheduler when their delay has passed. Every send-time rule (opt-out, reachability, the shared
frequency cap, quiet hours) is applied by the delivery worker, not here: a rule that holds at
creation may not hold a week later.

- `plan`: the request validated and completed into a plan (no I/O);
- `create`: create (idempotent), the audience and its holdout, step 1 queued;
- `dry_run`: what a campaign would do, sending and storing nothing;
- `control`: pause, resume, cancel;
- `reading`: one campaign with its figures (`campaign_stats`), a page of them, its recipients;
- `views`: what callers get back.
"""

from core.outreach.campaigns.control import cancel, pause, resume
from core.outreach.campaigns.create import INSERT_CHUNK, create_campaign, holdout_salt, resolve_customers
from core.outreach.campaigns.dry_run import DryRun, RenderedSample, dry_run, render_step
from core.outreach.campaigns.plan import (
    BUTTON_KINDS,
    MAX_BUTTONS,
    MAX_DELAY,
    MAX_EXPLICIT,
    MAX_STEPS,
    CampaignInput,
    Plan,
    PlanWarning,
    frequency_cap_warnings,
    plan,
)
from core.outreach.campaigns.reading import (
    RecipientView,
    campaign_stats,
    get_campaign,
    list_campaigns,
    list_recipients,
)
from core.outreach.campaigns.views import CampaignStats, CampaignView, StepStats

__all__ = [
    "BUTTON_KINDS",
    "INSERT_CHUNK",
    "MAX_BUTTONS",
    "MAX_DELAY",
    "MAX_EXPLICIT",
    "MAX_STEPS",
    "CampaignInput",
    "CampaignStats",
    "CampaignView",
    "DryRun",
    "Plan",
    "PlanWarning",
    "RecipientView",
    "RenderedSample",
    "StepStats",
    "campaign_stats",
    "cancel",
    "create_campaign",
    "dry_run",
    "frequency_cap_warnings",
    "get_campaign",
    "holdout_salt",
    "list_campaigns",
    "list_recipients",
    "pause",
    "plan",
    "render_step",
    "resolve_customers",
    "resume",
]
