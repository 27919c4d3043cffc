"""The one renderer of what users are told: every word of every event
(``nija_tg.core.events``), its numbers (``core.number_format``: money with the currency
code and a sign, prices at the market's precision, percentages) and its HTML escaping.

It imports only the pure core, so both processes can use it. ``render(event)`` returns
the Telegram HTML text; ``docs/messages.md`` (``python -m nija_tg.messages.catalogue``)
shows every event rendered with sample data, so a change of wording shows in its diff.

Conventions: a closed trade starts with 🟢 (profit or flat) or 🔴 (loss), never ✅ on
a loss; an opened position says long or short and, on a swap, its leverage; a stop exit
is one message starting "🛑 Stop hit"; "P&amp;L" is escaped; every dynamic value goes
through ``esc``.

The bot's reports are rendered beside this module, with the same number format and
escaping: ``reports.py`` (/status, /balance, /positions, /trades, /pnl, /daily,
/performance), ``admin_reports.py``, ``health.py``, ``settings.py``, ``commands.py``
(/help) and ``connect.py``; ``docs/messages.md`` shows them too.
"""

from __future__ import annotations

import html
from decimal import Decimal
from functools import singledispatch

from nija_tg.core import events as ev
from nija_tg.core.errors import ErrorReason
from nija_tg.core.number_format import DASH, amount, money, money_in, pct, price
from nija_tg.core.risk import RiskFigures, RiskReason
from nija_tg.messages import errors

ZERO = Decimal(0)
CASH_CODES = ("USD", "USDT", "USDC")  # fees in these read as money
PURPOSE_LABEL = {
    "take_profit": "take-profit",
    "adopted": "adopted order",
    "close": "closed at your request",
}


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def positions_count(n: int) -> str:
    return f"{n} open position{'' if n == 1 else 's'}"


def _pnl(value: Decimal, quote: str) -> str:
    return f"P&amp;L {esc(money_in(value, quote, signed=True))}"


def pnl_marker(realized: Decimal | None) -> str:
    """🟢 for a profit (or flat), 🔴 for a loss; ⚪ when nothing was realised."""
    if realized is None:
        return "⚪"
    return "🔴" if realized < 0 else "🟢"


def digest_header(n: int) -> str:
    """The line above ``n`` notifications merged into one message (the outbox sender's)."""
    return f"📬 {n} updates"


@singledispatch
def render(event: object) -> str:
    """The Telegram HTML text of ``event``."""
    raise TypeError(f"no text for {type(event).__name__}")


# --- fills and stops -------------------------------------------------------------------


def _lev(f: ev.Fill) -> str:
    return f" {f.leverage}x" if f.swap and f.leverage else ""


def _trade_line(f: ev.Fill) -> str:
    """``sold 0.5 at 2,340.00`` (the verb of the order, the amount in base units)."""
    verb = "bought" if f.buy else "sold"
    return f"{verb} {esc(amount(f.amount))} {esc(f.base)} at {esc(price(f.price, f.price_step))}"


def _details(f: ev.Fill) -> str:
    parts = []
    if f.realized is not None:
        parts.append(_pnl(f.realized, f.quote))
    parts.append(f"fee {fee_text(f.fee, f.quote)}")
    label = PURPOSE_LABEL.get(f.purpose)
    if label:
        parts.append(label)
    parts.append(esc(f.mode))
    return " · ".join(parts)


def fee_text(value: Decimal | None, currency: str | None) -> str:
    """A fee as the fill alerts and /trades both show it: in a cash currency money's 2
    decimals (``0.60 USD``), or up to 8 significant digits when that would read 0.00
    (``0.0012 USDT``); a coin's up to 8 significant digits (``0.00012 BNB``); with its
    code when known."""
    if value is None or not value.is_finite():
        return DASH
    cashlike = currency is not None and currency.upper() in CASH_CODES
    shown = money(value) if cashlike else amount(value)
    if cashlike and not value.is_zero() and shown in ("0.00", "-0.00"):
        shown = amount(value)  # under a cent: its own digits, not 0.00
    return esc(f"{shown} {currency}" if currency else shown)


def _held(b: ev.BalanceFound) -> str:
    """A balance as /balance shows it: cash in money's 2 decimals (``10,234.50``), a
    coin with up to 8 significant digits."""
    return esc(money(b.total) if b.currency.upper() in CASH_CODES else amount(b.total))


@render.register
def _fill(f: ev.Fill) -> str:
    """📈/📉 Opened long/short …; 🟢/🔴 Closed long/short … with its P&L."""
    symbol = f"<b>{esc(f.symbol)}</b>"
    if f.opens:
        icon = "📈" if f.position == "long" else "📉"
        head = f"{icon} Opened {esc(f.position)}{_lev(f)} {symbol}: {_trade_line(f)}"
    else:
        head = f"{pnl_marker(f.realized)} Closed {esc(f.position)}{_lev(f)} {symbol}: "
        head += _trade_line(f)
    return f"{head}\n{_details(f)}"


@render.register
def _stop_hit(e: ev.StopHit) -> str:
    f = e.fill
    where = " on the exchange" if e.on_exchange else ""
    at = "" if e.stop is None else f" (stop {esc(price(e.stop, f.price_step))})"
    head = f"🛑 <b>Stop hit{where}</b>: {esc(f.position)}{_lev(f)} <b>{esc(f.symbol)}</b>{at}"
    return f"{head}, {_trade_line(f)}\n{pnl_marker(f.realized)} {_details(f)}"


@render.register
def _closed_outside(e: ev.ClosedOutside) -> str:
    what = "closed" if e.whole else "reduced"
    at = esc(price(e.price, e.price_step))
    if e.swap:
        unit = "contracts" if e.contracts else esc(e.base)
        return (
            f"ℹ️ Your <b>{esc(e.symbol)}</b> {esc(e.side)} was {what} outside the bot: the "
            f"exchange shows {esc(amount(e.held - e.closed))} {unit} where the bot held "
            f"{esc(amount(e.held))} ({esc(amount(e.closed))} {unit} closed outside). Booked "
            f"at the last price {at}; the bot will not close it again."
        )
    return (
        f"ℹ️ Your <b>{esc(e.symbol)}</b> position was {what} outside the bot: the account "
        f"holds less {esc(e.base)} than it ({esc(amount(e.closed))} {esc(e.base)} no longer "
        f"there). Booked at the last price {at}; the bot will not sell it."
    )


# --- refusals ----------------------------------------------------------------------------


def _why(reason: ErrorReason) -> str:
    """An error's reason in words (``messages.errors``), escaped."""
    return esc(errors.words(reason))


@render.register
def _stop_order_refused(e: ev.StopOrderRefused) -> str:
    return (
        f"⚠️ The exchange refused the stop-loss order for <b>{esc(e.symbol)}</b>: "
        f"{_why(e.reason)} The engine still enforces your stop on every candle while it runs."
    )


@render.register
def _exit_refused(e: ev.ExitRefused) -> str:
    what = {"stop": "stop-loss", "take_profit": "take-profit"}.get(e.purpose, "exit")
    return (
        f"⚠️ The {what} order for <b>{esc(e.symbol)}</b> was refused by the exchange: "
        f"{_why(e.reason)} The position is still open; the engine tries again on the next "
        "signal."
    )


@render.register
def _entry_refused(e: ev.EntryRefused) -> str:
    return (
        f"⚠️ The exchange refused the <b>{esc(e.symbol)}</b> entry: {_why(e.reason)} Nothing "
        "was opened; the engine tries again on the next signal."
    )


@render.register
def _entry_no_funds(e: ev.EntryNoFunds) -> str:
    what = "as margin" if e.swap else "plus the fee"
    at = f"{esc(amount(e.units))} {esc(e.base)} at about {esc(price(e.price, e.price_step))}"
    have = "an amount I could not read" if e.free is None else esc(money_in(e.free, e.quote))
    return (
        f"⚠️ Not enough funds for the <b>{esc(e.symbol)}</b> entry: {at} needed about "
        f"{esc(money_in(e.needed, e.quote))} ({what}) and {have} is free on "
        f"{esc(e.exchange_id)}. Nothing was opened; the engine tries again on the next "
        "signal."
    )


def risk_text(reason: str, f: RiskFigures) -> str:
    """Why the risk check refused an entry (``core.risk.check_entry``), in plain text
    (escape it for HTML): the reason's words with its figures."""
    r = next((known for known in RiskReason if known.value == reason), None)
    if r is RiskReason.GLOBAL_HALT:
        return "Trading is halted for everyone by an admin."
    if r is RiskReason.PAUSED:
        return "Trading is paused for you."
    if r is RiskReason.PAIR_NOT_ALLOWED:
        return f"{f.symbol} is not in your allowed pairs."
    if r is RiskReason.SHORT_NOT_ALLOWED:
        return "Short entries need a swap market."
    if r is RiskReason.ALREADY_OPEN:
        return f"A {f.side} in {f.symbol} is open."
    if r is RiskReason.MAX_OPEN_POSITIONS:
        return f"Already {f.open_positions} open positions (max {f.max_open_positions})."
    if r is RiskReason.DAILY_LOSS:
        loss, limit = money_in(f.loss, f.quote), money_in(f.loss_limit, f.quote)
        return (
            f"Daily loss limit reached: {loss} lost today (limit {limit}). "
            "No new entries until tomorrow (UTC)."
        )
    if r is RiskReason.MAX_DRAWDOWN:
        return (
            f"Drawdown {pct(f.drawdown_pct)} from peak reached the "
            f"{pct(f.drawdown_limit_pct)} limit."
        )
    if r is RiskReason.INVALID_INPUT:
        return "Price, stop distance and equity must be positive."
    if r is RiskReason.BELOW_MINIMUM:
        value = money_in(f.notional, f.quote)
        return (
            f"Position size {amount(f.amount)} ({value}) is below the exchange minimum "
            f"for {f.symbol}."
        )
    if r is RiskReason.STOP_BEYOND_LIQUIDATION:
        return (
            f"The {f.side} stop for {f.symbol} at {price(f.stop)} would lie beyond or too "
            f"near the liquidation price (about {price(f.liquidation)} at {f.leverage}x "
            f"leverage from {price(f.entry)}): the position could be liquidated before its "
            "stop. Lower the leverage cap or use a tighter stop."
        )
    return "Your risk settings do not allow this entry now."


@render.register
def _entry_blocked(e: ev.EntryBlocked) -> str:
    return f"⚠️ No entry on <b>{esc(e.symbol)}</b>: {esc(risk_text(e.reason, e.figures))}"


@render.register
def _position_mode_refused(e: ev.PositionModeRefused) -> str:
    return f"⚠️ {_why(e.reason)}"


# --- close requests ----------------------------------------------------------------------


@render.register
def _close_nothing(e: ev.CloseNothing) -> str:
    if e.symbol is None:
        return "✅ Nothing to close: you have no open positions the engine manages."
    what = f"{e.symbol} {e.side}" if e.side else e.symbol
    if e.outside and not e.stopped:
        why = (
            " It had been closed outside the bot, on the exchange (see the message above); "
            "nothing was sold."
        )
    elif e.outside:
        why = " It had been closed outside the bot or by its stop-loss (see above)."
    elif e.stopped:
        why = " Its stop-loss on the exchange had just closed it (see the message above)."
    else:
        why = ""
    return f"✅ Nothing to close: there is no open {esc(what)} position any more.{why}"


@render.register
def _close_expired(e: ev.CloseExpired) -> str:
    what = "of all your positions" if e.symbol is None else f"of {esc(e.symbol)}"
    return (
        f"⚠️ Your close {what} was not carried out: the engine could not act on it for "
        f"{e.age_s / 60:.0f} minutes, and a market order now would fill at a price you never "
        "saw. The position is still open and keeps its stop; send /close again if you "
        "still want it closed."
    )


@render.register
def _close_refused(e: ev.CloseRefused) -> str:
    return "\n".join(
        f"⚠️ Your close of <b>{esc(symbol)}</b> was refused by the exchange: {_why(reason)} "
        "The position is still open and keeps its stop; send /close again to retry."
        for symbol, reason in e.refused
    )


# --- limits, pauses, halts -----------------------------------------------------------------


def _cash(value: Decimal, currency: str) -> str:
    return esc(money_in(value, currency) if currency else money(value))


@render.register
def _daily_loss(e: ev.DailyLossLimit) -> str:
    return (
        f"⛔ <b>Daily loss limit reached</b>: {_cash(e.loss, e.currency)} lost today (limit "
        f"{_cash(e.limit, e.currency)}). No new entries until tomorrow (UTC); open "
        "positions keep their stops."
    )


@render.register
def _drawdown(e: ev.DrawdownPaused) -> str:
    kept = (
        f" Stops keep protecting your {positions_count(e.held)} (only /close ends that)."
        if e.held
        else ""
    )
    return (
        f"🛑 <b>Drawdown {esc(pct(e.pct))}</b> from your peak equity reached your "
        f"{esc(pct(e.limit))} limit. Trading is paused: no new entries.{kept} Review your "
        "settings, then /trade on when ready."
    )


@render.register
def _paused(e: ev.PausedByAdmin) -> str:
    reason = f"Reason: {esc(e.reason)}\n" if e.reason else ""
    return (
        "⏸ <b>Your trading was paused by an admin.</b>\n"
        f"{reason}No new trades will be placed until an admin resumes you."
    )


@render.register
def _resumed(e: ev.ResumedByAdmin) -> str:
    return (
        "▶️ <b>An admin resumed your account.</b>\n"
        "Trading continues if you have it switched on (/status shows it)."
    )


@render.register
def _halted(e: ev.Halted) -> str:
    if e.halted:
        return (
            "🛑 <b>All trading is halted</b> by an admin (global kill switch): no new "
            "positions are opened until it is lifted. Stops and exits of your open "
            "positions keep running."
        )
    return (
        "✅ <b>The global trading halt was lifted.</b> Trading continues for users "
        "who have it switched on."
    )


# --- the account -----------------------------------------------------------------------


def _unprotected_line(u: ev.Unprotected) -> str:
    what = f"{esc(u.symbol)} {esc(u.side)} {esc(amount(u.amount))}"
    if u.stop is not None:
        at = esc(price(u.stop, u.price_step))
        return f"• {what}: its stop-loss at {at} rests on the exchange and still fires"
    return f"• {what}: no stop on the exchange: nothing protects it now"


@render.register
def _key_dead(e: ev.KeyDead) -> str:
    ex = esc(e.exchange_id)
    text = (
        f"🔌 Your <b>{ex}</b> API key stopped working (the exchange refused it or it "
        "could not be read). Trading is paused."
    )
    if e.unprotected:
        text += (
            f"\n⚠️ The engine can no longer protect your {positions_count(len(e.unprotected))} "
            f"on {ex} (no trailing, no stop checks, no exits):\n"
            + "\n".join(_unprotected_line(u) for u in e.unprotected)
            + "\nWatch them on the exchange, or close them there."
        )
    return (
        text + "\nPlease /connect again with a valid key: the engine protects your positions "
        "again as soon as it is verified; /trade on resumes trading."
    )


MAX_BALANCES_SHOWN = 8


@render.register
def _key_verified(e: ev.KeyVerified) -> str:
    lines = [
        f"✅ <b>{esc(e.exchange_id)}</b> connected with key <code>••••{esc(e.key_tail)}</code>."
    ]
    held = [b for b in e.balances if b.total]
    if held:
        lines.append("Balances found:")
        lines += [f"• {esc(b.currency)}: {_held(b)}" for b in held[:MAX_BALANCES_SHOWN]]
        if len(held) > MAX_BALANCES_SHOWN:
            lines.append(f"… and {len(held) - MAX_BALANCES_SHOWN} more")
    else:
        lines.append("No balances found on this account yet.")
    if e.cannot_withdraw:
        lines.append("Checked: this key cannot withdraw funds.")
    else:
        lines.append(
            "This exchange does not tell whether a key can withdraw: make sure withdrawals "
            "are disabled for this key."
        )
    if e.live:
        lines.append("You trade live: the engine now uses this key. /status shows it.")
    else:
        lines.append(
            "You are in paper mode. /mode live switches to real trading; /trade on starts."
        )
    return "\n".join(lines)


@render.register
def _key_refused(e: ev.KeyRefused) -> str:
    return (
        f"❌ Your <b>{esc(e.exchange_id)}</b> key was not connected: {_why(e.reason)}\n"
        "Nothing was stored. /connect to try again."
    )


@render.register
def _loop_crashed(e: ev.LoopCrashed) -> str:
    return (
        f"⚠️ Your trading loop stopped unexpectedly {e.failures} times in a row. "
        "The engine keeps restarting it with longer pauses; no new orders are placed "
        "while it is down. Use /status to check, or turn trading off."
    )


# --- reports ---------------------------------------------------------------------------


@render.register
def _daily_summary(e: ev.DailySummary) -> str:
    wins = sum(1 for p in e.closed if p > 0)
    n = len(e.closed)
    # one decimal, as /pnl and /performance show it (``messages.text.share``): 66.7%
    rate = f", win rate {esc(pct(Decimal(100 * wins) / n))}" if n else ""
    pnl = esc(money_in(e.pnl, e.currency, signed=True) if e.currency else money(e.pnl, signed=True))
    return (
        f"📊 <b>Daily summary {esc(e.day)}</b> (UTC): {pnl_marker(e.pnl)} P&amp;L {pnl}, "
        f"equity {_cash(e.equity, e.currency)}; {_plural(n, 'closed trade')}, {wins} won{rate}."
    )


# --- service notices -----------------------------------------------------------------------


@render.register
def _role_changed(e: ev.RoleChanged) -> str:
    return f"An admin changed your role to <b>{esc(e.role)}</b>. Send /help to see your commands."


@render.register
def _view_granted(e: ev.ViewGranted) -> str:
    if e.granted:
        return f"An admin let you view trader {e.trader_id}'s dashboard."
    return f"Your access to trader {e.trader_id}'s dashboard ended."


@render.register
def _broadcast(e: ev.Broadcast) -> str:
    return f"📢 <b>Message from the admins</b>\n\n{esc(e.body)}"


def _stored(values: tuple[str, ...]) -> str:
    return esc(", ".join(values)) if values else DASH


def setting_change_text(c: ev.SettingChange) -> str:
    """``max_position_usd: 500 → 250`` (escaped)."""
    return f"{esc(c.name)}: {_stored(c.old)} → {_stored(c.new)}"


@render.register
def _settings_clamped(e: ev.SettingsClamped) -> str:
    return (
        "⚖️ An admin set new limits on your settings, so these changed:\n"
        + "\n".join(f"• {setting_change_text(c)}" for c in e.changes)
        + "\nSee /settings."
    )


@render.register
def _stored_words(e: ev.StoredWords) -> str:
    """An alert an older engine queued with its words written in, shown as it wrote them."""
    if e.event == "entry_blocked":
        return f"⚠️ No entry on <b>{esc(e.symbol)}</b>: {esc(' '.join(e.lines))}"
    return (
        "⚖️ An admin set new limits on your settings, so these changed:\n"
        + "\n".join(f"• {esc(line)}" for line in e.lines)
        + "\nSee /settings."
    )


@render.register
def _admin_demoted(e: ev.AdminDemoted) -> str:
    return (
        "You are no longer an admin: the bot's configuration (NIJA_ADMIN_IDS) does not list "
        "you any more. You keep your account as a trader. Send /help to see your commands."
    )
