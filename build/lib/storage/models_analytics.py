"""Indexes the retention reports need on the loyalty module's `orders` table.

Analytics reads only orders that count as purchases (not cancelled, not fully refunded), so both
indexes are partial and covering: one walks each customer's purchases in time order (retention,
cohorts), the other a time range (revenue per period). A query uses them only if its WHERE clause
repeats COUNTED_SQL word for word (SQLite matches a partial index's condition literally).
"""

from __future__ import annotations

from sqlalchemy import Index, text

from storage.models_loyalty import Order

COUNTED_STATUSES = ("completed", "partially_refunded")
COUNTED_SQL = "status IN (" + ", ".join(f"'{s}'" for s in COUNTED_STATUSES) + ")"

_orders = Order.__table__
CUSTOMER_INDEX = "ix_orders_counted_customer"
TIME_INDEX = "ix_orders_counted_placed"

Index(
    CUSTOMER_INDEX,
    _orders.c.customer_id,
    _orders.c.placed_at,
    _orders.c.base_amount_minor,
    _orders.c.base_refunded_minor,
    sqlite_where=text(COUNTED_SQL),
    postgresql_where=text(COUNTED_SQL),
)
Index(
    TIME_INDEX,
    _orders.c.placed_at,
    _orders.c.base_amount_minor,
    _orders.c.base_refunded_minor,
    sqlite_where=text(COUNTED_SQL),
    postgresql_where=text(COUNTED_SQL),
)
