"""faq learning: customer phrasings staff linked to FAQ entries

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('faq_learned',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('entry_id', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('normalized', sa.String(length=512), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('support_message_id', sa.Integer(), nullable=True),
    sa.Column('taught_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_faq_learned_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['support_message_id'], ['support_messages.id'], name=op.f('fk_faq_learned_support_message_id_support_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_learned')),
    sa.UniqueConstraint('language', 'normalized', 'entry_id', name=op.f('uq_faq_learned_language_normalized_entry_id'))
    )
    with op.batch_alter_table('faq_learned', schema=None) as batch_op:
        batch_op.create_index('ix_faq_learned_status', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('faq_learned', schema=None) as batch_op:
        batch_op.drop_index('ix_faq_learned_status')

    op.drop_table('faq_learned')
