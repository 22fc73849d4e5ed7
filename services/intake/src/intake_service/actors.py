"""Who is calling: roles per kind of route, the staff member who recorded something, and the rule
that a customer only sees its own file (a customer's token `sub` is its customer id)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from compressor_contracts import StaffMember, StaffRole
from compressor_kit.auth import ALL_ROLES, STAFF, Principal
from compressor_kit.refusals import Refusal

CallerRequest = Request[Any, Any, Any]
"""An HTTP request, as handlers receive it to learn who calls."""

ALL_PEOPLE = ALL_ROLES
FRONT_DESK = (StaffRole.RECEPTION, StaffRole.MANAGER, StaffRole.ADMIN)
"""Who keeps the customer file and records requests for customers."""
MANAGEMENT = (StaffRole.MANAGER, StaffRole.ADMIN)

# The role a staff member acted in, when the token holds several: the most specific first.
_ACTING_ORDER = (
    StaffRole.RECEPTION,
    StaffRole.MANAGER,
    StaffRole.ADMIN,
    StaffRole.DISPATCHER,
    StaffRole.ENGINEER,
    StaffRole.INSPECTOR,
)


def is_staff(principal: Principal) -> bool:
    return any(role in principal.roles for role in STAFF)


def staff_member(principal: Principal) -> StaffMember | None:
    """The staff member a token stands for (name from the `name` claim, else the subject); None for
    customers."""
    for role in _ACTING_ORDER:
        if role in principal.roles:
            name = str(principal.claims.get("name") or principal.subject)[:200]
            return StaffMember(user_id=principal.subject, name=name, role=StaffRole(role.value))
    return None


def ensure_may_see_customer(principal: Principal, customer_id: str) -> None:
    """Staff see every customer; a customer only itself (forbidden otherwise)."""
    if is_staff(principal):
        return
    if principal.subject != customer_id:
        raise Refusal.forbidden("a customer may only act on its own customer file", field="customer_id")
