"""Retention analytics: the figures a business owner acts on, for any period and granularity.

- `periods`: weeks, months, quarters in a time zone, converted to UTC;
- `engine`: the SQL (one streaming pass over each customer's purchases, grouped by pattern);
- `retention`: customers at start/end, new, lost, CRR, churn, growth, purchases, LTV, revenue
  churn, cohorts;
- `engagement`: NPS trend and segments, CSAT, first response, FAQ deflection, exit reasons,
  campaign win-back rate and uplift;
- `summary`: one period at a glance (the API's summary and staff's /stats);
- `definitions`: the operational definitions each report states;
- `tables`: the same reports as flat rows (CSV).

Metric arithmetic lives in core.metrics.
"""
