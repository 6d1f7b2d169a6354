"""FAQ learning: customer phrasings staff linked to an FAQ entry, waiting for approval or approved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class FaqLearned(Base):
    """A customer's phrasing that staff taught the bot for an entry (matched like a keyword once
    approved). Entry ids are the same in every language; the phrasing is in `language`."""

    __tablename__ = "faq_learned"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    entry_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)  # as the customer wrote it
    normalized: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    support_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_messages.id", ondelete="SET NULL")
    )
    taught_by: Mapped[int | None] = mapped_column(BigInteger)  # staff Telegram user id
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))  # API key name

    __table_args__ = (
        UniqueConstraint("language", "normalized", "entry_id"),
        Index("ix_faq_learned_status", "status", "created_at"),
    )
