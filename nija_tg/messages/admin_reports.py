"""Every word of the admins' reports: /users (a page with totals), /user <id> and
/audit. Every dynamic part is escaped; names and free text are shortened (``echo``)."""

from __future__ import annotations

from collections.abc import Sequence

from nija_tg.messages import report_data as rd
from nija_tg.messages.money_text import cash, cash_each
from nija_tg.messages.text import echo, esc, mark, when

PREV_BUTTON = "‹ Prev"
NEXT_BUTTON = "Next ›"
SHOWN_IDS = 30


def _display_name(username: str | None, first_name: str | None) -> str:
    if username:
        return echo(f"@{username}", 24)
    return echo(first_name, 24) if first_name else ""


def _yes(flag: bool | None) -> str:
    return "unknown" if flag is None else ("yes" if flag else "no")


def users_page(view: rd.UsersPage) -> str:
    t = view.totals
    lines = [
        f"<b>Users</b> — page {view.page}/{view.pages}",
        f"Total {t.users} · active {t.active} · paused {t.paused} · "
        f"balance {cash_each(t.balance)} · P&amp;L today {cash_each(t.pnl_today, signed=True)}",
        "",
    ]
    for u in view.rows:
        name = _display_name(u.username, u.first_name)
        cur = u.currency  # what the engine counts their equity in
        lines.append(
            f"<code>{u.user_id}</code> {name} · {esc(u.role.value)} · {esc(u.status.value)} · "
            f"trading {'on' if u.trading_on else 'off'} · {esc(u.mode.value)} · "
            f"{echo(u.exchange_id, 20) if u.exchange_id else 'no exchange'} · "
            f"eq {cash(u.equity, cur)} · today {cash(u.pnl_today, cur, signed=True)}"
            f"{mark(u.pnl_today)}"
        )
    if not view.rows:
        lines.append("No users yet.")
    lines.append("\n/user &lt;id&gt; shows one user.")
    return "\n".join(lines)


def _ids(ids: Sequence[int], limit: int = SHOWN_IDS) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return f"{shown} (+{len(ids) - limit} more)" if len(ids) > limit else shown or "none"


def user_detail(d: rd.UserDetail) -> str:
    u, o, c = d.user, d.overview, d.credential
    names = " ".join(
        part
        for part in (
            echo(f"@{u.username}", 40) if u.username else "",
            f"({echo(u.first_name, 40)})" if u.first_name else "",
        )
        if part
    )
    status = esc(u.status.value)
    if u.pause_reason:
        status += f" — {echo(u.pause_reason, 200)}"
    lines = [
        f"<b>User <code>{u.user_id}</code></b> {names}".rstrip(),
        f"Role: {esc(u.role.value)}",
        f"Status: {status}",
        f"Trading: {'on' if u.trading_on else 'off'} · mode {esc(u.mode.value)} · "
        f"trade-only {_yes(u.trade_only)}",
    ]
    if c is None:
        lines.append("Exchange: not connected")
    else:
        perms = ", ".join(echo(p, 30) for p in c.permissions[:10]) or "not reported"
        verified = "yes" if c.verified else f"no ({echo(c.verify_reason or 'not checked', 80)})"
        lines.append(
            f"Exchange: {echo(c.exchange_id, 30)} · key …{echo(c.key_tail[-4:], 4)} · "
            f"verified {verified} · permissions: {perms} · can withdraw: {_yes(c.can_withdraw)}"
        )
    lines += [
        f"Equity: {cash(o.equity, o.currency)} · "
        f"today {cash(o.pnl_today, o.currency, signed=True)}"
        f"{mark(o.pnl_today)}",
        f"Registered: {when(u.created_at)} · last seen: {when(u.last_seen_at)}",
        f"Reachable: {_yes(u.reachable)}",
    ]
    if d.can_view or u.role.value == "viewer":
        lines.append(f"Can view traders: {_ids(d.can_view)}")
    if d.viewed_by:
        lines.append(f"Viewed by: {_ids(d.viewed_by)}")
    return "\n".join(lines)


def audit(rows: Sequence[rd.AuditEntry]) -> str:
    if not rows:
        return "The audit log is empty."
    lines = [f"<b>Audit log</b> — last {len(rows)}, newest first"]
    for r in rows:
        actor = "system" if r.actor_id is None else str(r.actor_id)
        target = "" if r.target_id is None else f" → {esc(r.target_id)}"
        detail = ", ".join(f"{echo(str(k), 20)}={echo(str(v), 60)}" for k, v in r.detail.items())
        line = f"{when(r.ts, seconds=True)} · {esc(actor)}{target} · <b>{echo(r.action, 40)}</b>"
        lines.append(f"{line} · {detail}" if detail else line)
    return "\n".join(lines)
