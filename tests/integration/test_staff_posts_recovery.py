"""Staff-group posts a dead process left on the wire (bot/support_worker.recover_inflight): they
become `uncertain` and are never posted again, and staff are told in the customer's topic, with
the customer's text, so that nothing a customer wrote goes unseen after a crash."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot import support_worker
from dialogs.i18n import I18n
from storage.models_support import GroupPost
from tests.integration.test_staff_posts_hot import GROUPS, make_ctx, seed


async def test_posts_on_the_wire_at_a_crash_are_uncertain_and_staff_get_their_text(
    sessionmaker, clock
) -> None:
    db = sessionmaker
    group = GROUPS[0]
    ids = await seed(db, clock, group)
    async with db.begin() as s:  # a dead process had "a" (a text) and the photo on the wire
        await s.execute(
            update(GroupPost)
            .where(GroupPost.id.in_([ids["a"], ids["photo"]]))
            .values(
                status="sending", owner="dead:1", lease_until=clock.now() - timedelta(seconds=1), attempts=1
            )
        )
    ctx = make_ctx(db, clock, owner="alive:1")
    ctx.single_process = False  # only what a dead process left (its lease lapsed)

    assert await support_worker.recover_inflight(ctx) == 2

    async with db() as s:
        posts = {
            r.id: (r.status, r.error)
            for r in (await s.execute(select(GroupPost).where(GroupPost.group_chat_id == group))).scalars()
        }
        notices = (
            (
                await s.execute(
                    select(GroupPost)
                    .where(GroupPost.group_chat_id == group, GroupPost.kind == "notice")
                    .order_by(GroupPost.id)
                )
            )
            .scalars()
            .all()
        )
        copies = {
            r.id: r
            for r in (
                await s.execute(select(GroupPost).where(GroupPost.id.in_([ids["a"], ids["photo"]])))
            ).scalars()
        }
    assert posts[ids["a"]][0] == posts[ids["photo"]][0] == "uncertain"  # never posted again
    assert {posts[ids[n]][0] for n in ("b", "c", "d")} == {"queued"}  # the rest untouched
    assert [(n.status, n.payload) for n in notices] == [
        ("queued", {"key": "staff-post-uncertain-text", "text": "a"}),
        ("queued", {"key": "staff-post-uncertain"}),
    ]
    # each in the topic of the customer whose message it was
    assert [(n.customer_id, n.case_id) for n in notices] == [
        (copies[ids["a"]].customer_id, copies[ids["a"]].case_id),
        (copies[ids["photo"]].customer_id, copies[ids["photo"]].case_id),
    ]
    t = I18n()("en")
    assert "It said: «a»" in t("staff-post-uncertain-text", text="a")
    assert "may be missing" in t("staff-post-uncertain")

    # a second look finds nothing more: one notice per lost post
    assert await support_worker.recover_inflight(ctx) == 0
    async with db() as s:
        count = len(
            (
                await s.execute(
                    select(GroupPost.id).where(GroupPost.kind == "notice", GroupPost.group_chat_id == group)
                )
            )
            .scalars()
            .all()
        )
    assert count == 2
