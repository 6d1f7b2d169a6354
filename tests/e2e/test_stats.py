"""/stats in the staff group, end to end through the Bot API double: a summary and the charts."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text
from tests.integration.test_analytics_core import seed_engagement, seed_product_md_example

pytestmark = pytest.mark.usefixtures("no_violations")
PNG = b"\x89PNG\r\n\x1a\n"


async def test_stats_summary_and_charts(product: Runtime, tg: SandboxClient, staff: dict[str, Any]) -> None:
    group, agent = staff["group_id"], staff["agent_id"]
    async with product.db() as s:
        await seed_product_md_example(s)  # June 2025: S = 50, E = 65, 25 new, 10 lost
        await seed_engagement(s)  # NPS, cases, FAQ, exit interviews, a win-back campaign
        await s.commit()

    await tg.staff_send(group, None, agent, "/stats 2025-06")
    summary = await wait_text(tg, group, "2025-06 · UTC", timeout=20)
    text = summary["text"]
    assert "Customers: 50 → 65 (new 25, came back 0, lost 10)" in text
    assert "Retention (CRR) 80.0% · churn 20.0% · growth +30.0%" in text
    assert "NPS +16.7 (6 answers)" in text
    assert "First reply: median 3 min 30 s, 90% within 8 min 30 s" in text
    assert "Win-back June: 30.0% vs 10.0%, +20.0 pp" in text

    async def album() -> list[dict[str, Any]]:
        photos = [m for m in await tg.messages(group) if m.get("from_bot") and m.get("kind") == "photo"]
        return photos if len(photos) >= 4 else []

    photos = await eventually(album, timeout=30)
    # Cohort heatmap, NPS trend, exit reasons, campaign uplift: one album, real PNG images.
    assert [p["text"] for p in photos] == [
        "Retention by first-purchase month, % who bought",
        "NPS by period",
        "Why customers leave (exit interviews)",
        "Campaign uplift over the holdout, percentage points (95% interval)",
    ]
    assert len({p.get("media_group_id") for p in photos}) == 1
    data = await tg.download(photos[0]["content"]["photo"][-1]["file_id"])
    assert data.startswith(PNG) and len(data) > 5000

    last = await tg.last_message_id(group)
    await tg.staff_send(group, None, agent, "/stats yesterday")
    await wait_text(tg, group, "is not a period", after=last)
