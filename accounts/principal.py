"""Who a request acts as (主体), and what their grants allow. Pure: no database, no web."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Grant:
    role: str  # admin | coordinator | partner
    org_id: int | None = None
    org_path: str | None = None  # admin and coordinator: the subtree they hold
    partner_id: int | None = None
    station_id: int | None = None


@dataclass(frozen=True)
class Principal:
    kind: str  # volunteer | staff | api_key
    volunteer_id: int | None = None
    staff_user_id: int | None = None
    partner_id: int | None = None  # an API key acts for one partner enterprise
    token_id: int | None = None
    expires_at: datetime | None = None  # the token's
    grants: tuple[Grant, ...] = field(default=())

    @property
    def admin_paths(self) -> list[str]:
        return [g.org_path for g in self.grants if g.role == "admin" and g.org_path]

    @property
    def staff_paths(self) -> list[str]:
        """Subtrees this staff member works in: admins, and coordinators not bound to a station."""
        return [
            g.org_path
            for g in self.grants
            if g.org_path and (g.role == "admin" or (g.role == "coordinator" and not g.station_id))
        ]

    @property
    def bound_station_ids(self) -> frozenset[int]:
        """Stations a coordinator is bound to: their whole scope for those grants."""
        return frozenset(g.station_id for g in self.grants if g.role == "coordinator" and g.station_id)

    def has_role(self, *roles: str) -> bool:
        if self.kind == "api_key":
            return "partner" in roles
        return any(g.role in roles for g in self.grants)
