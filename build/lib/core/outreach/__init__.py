"""Win-back outreach: events and segments, campaigns and playbooks, the durable outbox.

- `rules`: pure rules (windows, quiet hours, holdout, backoff) built from settings;
- `stats`: the per-customer summary segments query, kept current from events, orders, the bot;
- `segments`: segment definitions compiled to indexed SQL; count, preview, iterate;
- `templates`: safe message templates (no code runs; unknown variables fail at creation);
- `playbooks`: the ready win-back, renewal and abandoned-cart series;
- `campaigns`: create (idempotent), dry run, pause/resume/cancel, status, conversions;
- `delivery`: the outbox state machine the delivery worker drives;
- `webhooks`: signed notifications to the backend, retried with backoff.
"""
