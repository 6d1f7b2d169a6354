"""Request and response models of the HTTP API (input strict, output mirroring core views)."""

from api.schemas.customers import CustomerOut, CustomerPage, CustomerUpsert, LinkTokenOut
from api.schemas.health import HealthOut, ReadyOut

__all__ = [
    "CustomerOut",
    "CustomerPage",
    "CustomerUpsert",
    "HealthOut",
    "LinkTokenOut",
    "ReadyOut",
]
