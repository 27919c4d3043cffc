"""/balance, /positions (with a Close button per position of one's own), /trades,
/sessions, /daily (per-day table) and /performance (per pair)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from nija_tg.core.models import TradingMode
from nija_tg.handlers import reports_format as fmt
from nija_tg.handlers.context import BotContext
from nija_tg.handlers.replies import esc, reply
from nija_tg.handlers.reports_args import begin, whose
from nija_tg.handlers.trading import close_data
from nija_tg.services.reports_service import Access

__all__ = ["balance", "daily", "performance", "positions", "sessions", "trades"]
CONNECT_HINT = "Send /connect to link your exchange."
PAPER_HINT = "Paper trading needs no exchange account: /trade on starts it."


async def _no_data_hint(context: BotContext, access: Access) -> str:
    """A hint for one's own empty report: start trading (paper needs no exchange), or
    connect first (live)."""
    if not access.may_trade:
        return ""
    if access.target.mode is TradingMode.PAPER and not access.target.trading_on:
        return f"\n{PAPER_HINT}"
    if access.target.mode is TradingMode.PAPER:
        return "\nThe trading engine fills this in as paper trading runs."
    if await context.services.connect.info(access.target.user_id) is None:
        return f"\n{CONNECT_HINT}"
    return "\nThe trading engine fills this in once trading runs (/trade on)."


async def balance(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "balance")
    if started is None:
        return
    access, _ = started
    report = await context.services.reports.balances(access.target.user_id)
    lines = [f"💰 <b>Balance</b>{whose(access)}"]
    if report.updated_at is None:
        lines.append("No balance reported yet." + await _no_data_hint(context, access))
        await reply(update, "\n".join(lines))
        return
    lines.append(f"Equity: <b>{fmt.money(report.equity)}</b>")
    for line in report.lines[:50]:
        cur = line.currency
        lines.append(
            f"{esc(cur)}: {fmt.balance(line.total, cur)} "
            f"(free {fmt.balance(line.free, cur)}, in use {fmt.balance(line.used, cur)})"
        )
    if not report.lines:
        lines.append("No funds.")
    elif len(report.lines) > 50:
        lines.append(f"… and {len(report.lines) - 50} more currencies")
    lines.append(f"As of {fmt.when(report.updated_at)}")
    await reply(update, "\n".join(lines))


async def positions(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "positions")
    if started is None:
        return
    access, _ = started
    report = await context.services.reports.positions(access.target.user_id)
    lines = [f"📂 <b>Open positions</b>{whose(access)}"]
    if not report.positions:
        lines.append("No open positions." + await _no_data_hint(context, access))
        await reply(update, "\n".join(lines))
        return
    for p in report.positions:
        mark = f" → {fmt.amount(p.mark_price)}" if p.mark_price is not None else ""
        stop = f" · stop {fmt.amount(p.stop_price)}" if p.stop_price is not None else ""
        if stop and p.stop_on_exchange:
            stop += " (on the exchange)"
        lines.append(
            f"{fmt.dot(p.unrealized_pnl)} <b>{esc(p.symbol)}</b> {fmt.position_tag(p)} "
            f"{fmt.amount(p.amount)} @ {fmt.amount(p.entry_price)}{mark}\n"
            f"  unrealised P&amp;L {fmt.money(p.unrealized_pnl, signed=True)} "
            f"({fmt.position_pct(p)}){stop} · opened {fmt.when(p.opened_at)}"
        )
    total = report.total_unrealized
    lines.append(f"Total unrealised: <b>{fmt.money(total, signed=True)}</b>{fmt.mark(total)}")
    if report.updated_at is not None:
        lines.append(f"Marks as of {fmt.when(report.updated_at)}")
    markup = await _close_buttons(context, access)
    if markup is not None:
        lines.append("Stops protect every open position until it is closed.")
    await reply(update, "\n".join(lines), markup)


async def _close_buttons(context: BotContext, access: Access) -> InlineKeyboardMarkup | None:
    """One Close button per own open position the engine manages (each confirmed)."""
    if not (access.own and access.may_trade):
        return None
    rows = []
    for t in await context.services.trading.close_targets(access.target.user_id):
        data = close_data("ask", t.symbol, t.side)
        if data is not None:
            label = f"✖️ Close {t.symbol} {t.side} {fmt.amount(t.amount)}"
            rows.append([InlineKeyboardButton(label[:60], callback_data=data)])
    return InlineKeyboardMarkup(rows[:20]) if rows else None


async def trades(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "trades")
    if started is None:
        return
    access, parsed = started
    rows = await context.services.reports.trades(access.target.user_id, parsed.count)
    n = len(rows)
    title = f"Last {n} trade{'s' if n != 1 else ''}" if rows else "Trades"
    lines = [f"🧾 <b>{title}</b>{whose(access)}"]
    if not rows:
        lines.append("No trades yet." + await _no_data_hint(context, access))
    for f in rows:
        fee_cur = f" {esc(f.fee_currency)}" if f.fee_currency else ""
        realized = (
            f" · P&amp;L {fmt.money(f.realized_pnl, signed=True)}{fmt.mark(f.realized_pnl)}"
            if f.realized_pnl is not None
            else ""
        )
        lines.append(
            f"{fmt.when(f.ts)} {esc(f.side.value.upper())} {fmt.amount(f.amount)} "
            f"{esc(f.symbol)} @ {fmt.amount(f.price)} · fee {fmt.amount(f.fee)}{fee_cur}"
            f"{realized}"
        )
    await reply(update, "\n".join(lines))


async def sessions(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "sessions")
    if started is None:
        return
    access, parsed = started
    rows = await context.services.reports.sessions(access.target.user_id, parsed.count)
    lines = [f"🗂 <b>Trading sessions</b>{whose(access)}"]
    if not rows:
        lines.append("No trading sessions yet." + await _no_data_hint(context, access))
    now = context.services.reports.now().timestamp()
    for s in rows:
        end = s.ended_at if s.ended_at is not None else now
        ended = fmt.when(s.ended_at) if s.ended_at is not None else "still running"
        lines.append(
            f"\n<b>#{s.session_id}</b> {esc(s.status)} · {esc(s.mode)} · {esc(s.exchange_id)}\n"
            f"  {fmt.when(s.started_at)} → {ended} ({fmt.duration(s.started_at, end)})\n"
            f"  trades {s.trades} · wins {s.wins} · losses {s.losses} · "
            f"win rate {fmt.pct(s.win_rate)} · P&amp;L <b>{fmt.money(s.pnl, signed=True)}</b>"
            f"{fmt.mark(s.pnl)}"
        )
    await reply(update, "\n".join(lines))


async def daily(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "daily")
    if started is None:
        return
    access, parsed = started
    report = await context.services.reports.daily(access.target.user_id, parsed.count)
    text = fmt.daily_text(report, whose(access))
    if not report.trades and not any(d.equity is not None for d in report.days):
        text += await _no_data_hint(context, access)
    await reply(update, text)


async def performance(update: Update, context: BotContext) -> None:
    started = await begin(update, context, "performance")
    if started is None:
        return
    access, parsed = started
    report = await context.services.reports.performance(access.target.user_id, parsed.period)
    text = fmt.performance_text(report, whose(access))
    if not report.pairs:
        text += await _no_data_hint(context, access)
    await reply(update, text)
