"""Admin commands (admins only; others get a polite refusal, audited):
/users, /user, /audit (admin_users), /pause, /resume, /halt, /unhalt, /broadcast
(admin_control), /role, /grant, /revoke (admin_roles), /bound (admin_bounds), /health
(admin_health)."""

from __future__ import annotations

from nija_tg.handlers import admin_bounds, admin_control, admin_health, admin_roles, admin_users


def handlers() -> list:
    return [
        *admin_users.handlers(),
        *admin_control.handlers(),
        *admin_roles.handlers(),
        *admin_bounds.handlers(),
        *admin_health.handlers(),
    ]
