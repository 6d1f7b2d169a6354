"""The operational definitions every report states (PRODUCT.md's formulas, made exact)."""

from __future__ import annotations

COMMON = {
    "counted_order": "An order that is not cancelled and not fully refunded (status completed or "
    "partially_refunded). Only counted orders make a customer active, a buyer or part of a cohort.",
    "revenue": "Net revenue in the loyalty currency: base amount minus base refunds of counted "
    "orders, by the time the order was placed. Money is in minor units (cents).",
    "period": "Weeks (ISO, from Monday), months or quarters starting at local midnight in the "
    "report's time zone; boundaries are converted to UTC. The current period ends now "
    "(complete: false).",
    "no_data": "A rate whose denominator is zero is null (no data), never 0 or an error.",
}

RETENTION = {
    "active": "A customer is active at moment t if they placed a counted order in the "
    "{active_days} days before t ([t - {active_days} local days, t)).",
    "customers_start": "S: customers active at the period start.",
    "customers_end": "E: customers active at the period end.",
    "retained_customers": "Active at both the start and the end. Someone who lapsed and came back "
    "within the period counts as retained.",
    "new_customers": "First counted order ever inside the period, and active at the end.",
    "reactivated_customers": "Active at the end, not at the start, and had bought before the "
    "period (a lapsed customer who came back).",
    "acquired_customers": "N = new + reactivated = E - retained: everyone active at the end who was "
    "not a customer at the start. Counting only first-time buyers as N would let returning lapsed "
    "customers inflate CRR above 100%.",
    "lost_customers": "S - (E - N): active at the start, not at the end.",
    "crr_percent": "Customer retention rate = (E - N) / S x 100%. PRODUCT.md's example: S = 50, "
    "N = 25, E = 65 gives 80%.",
    "churn_rate_percent": "Lost / S x 100%; CRR + churn = 100%. (The example above is 10/50 = 20%; "
    "the 15/40 = 37.5% printed by one source contradicts its own data.)",
    "customer_growth_percent": "(E - S) / S x 100%.",
    "orders": "Counted orders placed in the period.",
    "buyers": "Customers with 1+ counted orders in the period.",
    "repeat_purchase_rate_percent": "RPR = customers with 2+ orders in the period / customers "
    "with 1+ order in the period x 100%.",
    "purchase_frequency": "Orders / buyers in the period.",
    "average_order_value_minor": "AOV = revenue / orders in the period.",
    "revenue_per_buyer_minor": "Realised revenue per customer: revenue / buyers in the period.",
    "expected_lifetime_periods": "Average customer lifetime = 1 / churn rate, in periods (null when "
    "nobody churned).",
    "ltv_minor": "LTV = AOV x purchase frequency (per period) x expected lifetime (periods).",
}

REVENUE_CHURN = {
    "window": "The activity window before the period start: [start - {active_days} days, start).",
    "base_revenue_minor": "All revenue in that window (it all comes from customers active at the start).",
    "lost_revenue_minor": "The part of it that came from customers lost during the period.",
    "revenue_churn_percent": "lost revenue / base revenue x 100%.",
}

COHORTS = {
    "cohort": "Customers whose first counted order ever falls in the period.",
    "active": "active[i]: cohort customers with a counted order in the i-th period after the "
    "cohort's own (i = 0 is the cohort period: everyone).",
    "retention_percent": "active[i] / cohort size x 100%.",
}

NPS = {
    "nps": "Answers given in the period: %promoters (9-10) - %detractors (0-6), -100..100.",
    "segments": "by_tier: the customer's loyalty tier when they answered; by_trigger: what sent "
    "the survey (api, support_case, first_purchase, menu).",
}

SUPPORT = {
    "csat": "Ratings 1-5 given in the period after a closed support case: average, and the share "
    "of 4 and 5 (satisfied).",
    "first_response": "Cases opened in the period: seconds from opening to the first staff reply, "
    "median and 90th percentile (linear interpolation) over the cases answered so far.",
    "faq_deflection_percent": "FAQ questions in the period answered without a human (an answer "
    "shown, not marked unhelpful, not escalated) / all FAQ questions x 100%. Self-service only: "
    "answers staff sent from the FAQ are counted apart (faq_assisted) and never as deflected.",
    "faq_assisted": "FAQ entries staff sent to customers from their support topic in the period "
    "(a person was needed, so these are not deflection).",
}

EXIT = {
    "reasons": "Exit interviews sent in the period: the reason picked, count and share of answers; "
    "saved = ordered again within EXIT_SAVE_WINDOW_DAYS of the interview.",
}

CAMPAIGNS = {
    "campaigns": "Campaigns running at some point of the range.",
    "win_back_rate_percent": "Share of the treated group (targeted minus holdout, reached or not) "
    "that reached the campaign's goal (a purchase, or a renewal) within its goal window.",
    "holdout_rate_percent": "The same share in the holdout group, who got no message.",
    "uplift_points": "win-back rate - holdout rate, in percentage points, with a 95% Wald "
    "confidence interval (uplift_ci_low, uplift_ci_high); significant when it excludes 0.",
}


def render(*parts: dict[str, str], active_days: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (COMMON, *parts):
        out.update({k: v.format(active_days=active_days) for k, v in part.items()})
    return out
