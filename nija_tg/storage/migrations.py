"""Numbered schema migrations, applied in order at start; applying twice is a no-op.

Add a migration by appending to MIGRATIONS; never edit one that has shipped.
Money and amounts are stored as TEXT holding a Decimal, never as REAL.
"""

from __future__ import annotations

import time

import aiosqlite

MIGRATION_1 = """
CREATE TABLE users (
    user_id        INTEGER PRIMARY KEY,              -- Telegram user id (never username)
    chat_id        INTEGER NOT NULL,
    username       TEXT,
    first_name     TEXT,
    role           TEXT NOT NULL DEFAULT 'trader' CHECK (role IN ('admin','trader','viewer')),
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','paused')),
    pause_reason   TEXT,
    trading_on     INTEGER NOT NULL DEFAULT 0,
    mode           TEXT NOT NULL DEFAULT 'paper' CHECK (mode IN ('paper','live')),
    trade_only     INTEGER NOT NULL DEFAULT 0,       -- may not change strategy parameters
    reachable      INTEGER NOT NULL DEFAULT 1,       -- 0 after Telegram said 403 (blocked)
    notify_prefs   TEXT NOT NULL DEFAULT '{}',
    created_at     REAL NOT NULL,
    last_seen_at   REAL NOT NULL
);

CREATE TABLE credentials (
    user_id        INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    exchange_id    TEXT NOT NULL,
    ciphertext     BLOB NOT NULL,                    -- Fernet token; the only copy of secrets
    key_tail       TEXT NOT NULL,                    -- last 4 characters of the API key
    verified       INTEGER NOT NULL DEFAULT 0,
    verify_reason  TEXT NOT NULL DEFAULT '',
    permissions    TEXT NOT NULL DEFAULT '[]',       -- JSON list as the exchange reported
    can_withdraw   INTEGER,                          -- NULL: exchange does not tell
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL
);

CREATE TABLE risk_settings (
    user_id        INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    settings       TEXT NOT NULL,                    -- JSON (RiskSettings.to_dict)
    updated_at     REAL NOT NULL
);

CREATE TABLE viewer_grants (
    viewer_id      INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    trader_id      INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    granted_by     INTEGER NOT NULL,
    created_at     REAL NOT NULL,
    PRIMARY KEY (viewer_id, trader_id)
);

CREATE TABLE trading_sessions (
    session_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    exchange_id    TEXT NOT NULL,
    mode           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'running',  -- running | stopped | paused | crashed
    started_at     REAL NOT NULL,
    ended_at       REAL,
    start_balance  TEXT,
    end_balance    TEXT,
    trades         INTEGER NOT NULL DEFAULT 0,
    wins           INTEGER NOT NULL DEFAULT 0,
    losses         INTEGER NOT NULL DEFAULT 0,
    pnl            TEXT NOT NULL DEFAULT '0',
    config_snapshot TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX trading_sessions_user ON trading_sessions(user_id, started_at);

CREATE TABLE orders (
    order_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    client_order_id   TEXT NOT NULL UNIQUE,
    exchange_id       TEXT NOT NULL,
    mode              TEXT NOT NULL,
    symbol            TEXT NOT NULL,
    side              TEXT NOT NULL CHECK (side IN ('buy','sell')),
    type              TEXT NOT NULL CHECK (type IN ('market','limit')),
    amount            TEXT NOT NULL,
    price             TEXT,
    purpose           TEXT NOT NULL DEFAULT 'entry', -- entry | exit | stop | take_profit
    status            TEXT NOT NULL,  -- intent|submitted|open|filled|canceled|rejected
    exchange_order_id TEXT,
    filled            TEXT NOT NULL DEFAULT '0',
    average           TEXT,
    fee               TEXT NOT NULL DEFAULT '0',
    error             TEXT,
    session_id        INTEGER REFERENCES trading_sessions(session_id) ON DELETE SET NULL,
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL
);
CREATE INDEX orders_user_status ON orders(user_id, status);

CREATE TABLE fills (
    fill_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    order_id       INTEGER REFERENCES orders(order_id) ON DELETE SET NULL,
    exchange_id    TEXT NOT NULL,
    trade_id       TEXT NOT NULL,
    symbol         TEXT NOT NULL,
    side           TEXT NOT NULL,
    amount         TEXT NOT NULL,
    price          TEXT NOT NULL,
    fee            TEXT NOT NULL DEFAULT '0',
    fee_currency   TEXT,
    realized_pnl   TEXT,
    ts             REAL NOT NULL,
    UNIQUE (user_id, exchange_id, trade_id)           -- a fill is recorded once
);
CREATE INDEX fills_user_ts ON fills(user_id, ts);

CREATE TABLE positions (
    user_id        INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    symbol         TEXT NOT NULL,
    side           TEXT NOT NULL CHECK (side IN ('long','short')),
    amount         TEXT NOT NULL,
    entry_price    TEXT NOT NULL,
    stop_price     TEXT,
    trail_anchor   TEXT,                              -- best price since entry
    realized_pnl   TEXT NOT NULL DEFAULT '0',
    opened_at      REAL NOT NULL,
    updated_at     REAL NOT NULL,
    PRIMARY KEY (user_id, symbol, side)
);

CREATE TABLE snapshots (
    user_id        INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    equity         TEXT,
    balances       TEXT NOT NULL DEFAULT '[]',
    positions      TEXT NOT NULL DEFAULT '[]',
    last_signal    TEXT,
    start_of_day_equity TEXT,
    peak_equity    TEXT,
    day            TEXT,
    updated_at     REAL NOT NULL
);

CREATE TABLE equity_history (
    user_id        INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    ts             REAL NOT NULL,
    equity         TEXT NOT NULL,
    PRIMARY KEY (user_id, ts)
);

CREATE TABLE paper_accounts (
    user_id        INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    state          TEXT NOT NULL,                     -- JSON of the paper exchange state
    updated_at     REAL NOT NULL
);

CREATE TABLE outbox (
    outbox_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER REFERENCES users(user_id) ON DELETE CASCADE,
    chat_id        INTEGER NOT NULL,
    kind           TEXT NOT NULL,  -- fill|stop|take_profit|halt|pause|error|summary|...
    text           TEXT NOT NULL,
    silent         INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | dropped
    attempts       INTEGER NOT NULL DEFAULT 0,
    not_before     REAL NOT NULL DEFAULT 0,
    dedupe_key     TEXT UNIQUE,
    created_at     REAL NOT NULL,
    sent_at        REAL
);
CREATE INDEX outbox_pending ON outbox(status, not_before);

CREATE TABLE audit_log (
    audit_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    ts             REAL NOT NULL,
    actor_id       INTEGER,
    action         TEXT NOT NULL,
    target_id      INTEGER,
    detail         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_ts ON audit_log(ts);

CREATE TABLE app_state (
    key            TEXT PRIMARY KEY,
    value          TEXT NOT NULL
);
INSERT INTO app_state(key, value) VALUES ('change_counter', '0'), ('halted', '0');
"""

# Order execution: how an order acts on a swap position, and the entry fees a position
# still carries (charged to P&L pro rata as it is reduced).
MIGRATION_2 = """
ALTER TABLE orders ADD COLUMN reduce_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN position_side TEXT;
ALTER TABLE positions ADD COLUMN entry_fees TEXT NOT NULL DEFAULT '0';
CREATE INDEX fills_user_order ON fills(user_id, order_id);
"""

# Exchange-native stop orders: the price that fires a resting stop-market order.
MIGRATION_3 = """
ALTER TABLE orders ADD COLUMN trigger_price TEXT;
"""

MIGRATION_4 = """
CREATE TABLE seal_keys (
    key_id         TEXT PRIMARY KEY,                 -- 16 hex of SHA-256(public key)
    public_key     BLOB NOT NULL,                    -- 32 bytes X25519; public, not secret
    state          TEXT NOT NULL CHECK (state IN ('current','retiring','retired')),
    created_at     REAL NOT NULL,
    retired_at     REAL
);
CREATE UNIQUE INDEX seal_keys_one_current ON seal_keys(state) WHERE state = 'current';

CREATE TABLE pending_credentials (
    user_id        INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    exchange_id    TEXT NOT NULL,
    ciphertext     BLOB NOT NULL,                    -- sealed to the engine's public key
    key_tail       TEXT NOT NULL,                    -- last 4 characters of the API key
    submitted_at   REAL NOT NULL
);

CREATE TABLE engine_keyring (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    key_ids        TEXT NOT NULL,                    -- JSON list of key ids the engine holds
    updated_at     REAL NOT NULL
);
"""

# Who made an admin: NIJA_ADMIN_IDS ('config': demoted when no longer listed) or another
# admin / the operator's `nija-tg admin add` ('granted': kept). Existing admins get the
# origin their last promotion in the audit log shows; without one, 'granted' (never
# demote an admin on a guess).
MIGRATION_5 = """
ALTER TABLE users ADD COLUMN admin_source TEXT CHECK (admin_source IN ('config','granted'));
UPDATE users SET admin_source = COALESCE((
    SELECT CASE WHEN a.action IN ('admin.role', 'role.admin_add') THEN 'granted'
                ELSE 'config' END
    FROM audit_log a
    WHERE a.target_id = users.user_id
      AND (a.action IN ('role.bootstrap_admin', 'role.admin_add')
           OR (a.action = 'register' AND json_extract(a.detail, '$.role') = 'admin')
           OR (a.action = 'admin.role' AND json_extract(a.detail, '$.new') = 'admin'))
    ORDER BY a.audit_id DESC LIMIT 1
), 'granted')
WHERE role = 'admin';
"""

# Live settings (issue 12 item 1): a per-user settings version, bumped in the transaction
# of every write of the user's settings or of an admin bound that applies to them, to one
# above the highest in use; the engine reads the users whose version passed the highest
# it saw (one indexed query per candle close for everyone). Item 11: the stop price that
# made the engine close a position itself (purpose 'stop'), so that the "Stop hit"
# message is written with the fill, also when the fill is only recorded after a restart;
# and what the exchange refused an order for (insufficient funds, or a digest of its
# reason), so that a refusal repeating every candle is told once until it changes or an
# order of that kind succeeds, across restarts too.
MIGRATION_6 = """
ALTER TABLE users ADD COLUMN settings_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_settings_version ON users(settings_version);
ALTER TABLE orders ADD COLUMN stop_price TEXT;
ALTER TABLE orders ADD COLUMN refusal TEXT;
CREATE INDEX orders_user_symbol ON orders(user_id, symbol, order_id);
"""

# Protection independent of trading (issue 12 item 2, issue 16 item 8). The user's
# switch gets its middle position: ``exits_only`` with ``trading_on = 1`` is "/trade
# exits" (no new entries, strategy exits and stops run); ``trading_on = 0`` is off
# whatever ``exits_only`` says, so every existing writer of ``trading_on`` keeps meaning
# what it meant. A position records the mode it was opened in (a paper loop never acts
# on a live position or the reverse; rows from before take the user's mode now).
# ``close_requests``: /close and the Close button ask the engine to close a position at
# market (symbol NULL: all of them); the user's loop answers each request once.
MIGRATION_7 = """
ALTER TABLE users ADD COLUMN exits_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE positions ADD COLUMN mode TEXT CHECK (mode IN ('paper','live'));
UPDATE positions SET mode = (SELECT u.mode FROM users u WHERE u.user_id = positions.user_id);
CREATE TABLE close_requests (
    request_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    symbol         TEXT,                             -- NULL: every open position
    side           TEXT CHECK (side IN ('long','short')),  -- NULL: every side
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending','done','nothing','failed')),
    result         TEXT,
    created_at     REAL NOT NULL,
    done_at        REAL
);
CREATE INDEX close_requests_pending ON close_requests(status, user_id);
"""

# Limits blind to cash flows (issue 12, "Limits blind to cash flows"). ``cash_flows``:
# one row per deposit (+) or withdrawal (-) of an account, valued in its quote currency
# (USD-like), read from the venue's ledger (``ref`` = the ledger entry id, so a re-read
# books nothing twice) or detected as a balance change no fill explains; ``detail`` is
# JSON {currency: amount}. ``limit_marks``: what the limits are measured from, per
# account (user, mode, exchange) so a paper peak never judges a live account, kept across
# restarts and stop/start: ``start_of_day_equity`` (the equity at the first read of the
# UTC ``day``, no cash flow in it), ``cash_flow_today`` (the day's net deposits, counted
# out of the day's P&L), ``peak_equity_flow_adjusted`` (the highest equity, rescaled at
# each cash flow by equity after / equity before, so a cash flow never moves the
# drawdown), ``starting_equity_plus_flows`` (the basis of sizing without compounding),
# and the last balance read (``last_balances`` JSON {currency: total}, ``last_fill_id``)
# that the next read is compared with.
MIGRATION_8 = """
CREATE TABLE cash_flows (
    flow_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    mode           TEXT NOT NULL CHECK (mode IN ('paper','live')),
    exchange_id    TEXT NOT NULL,
    ts             REAL NOT NULL,                     -- engine clock, epoch seconds
    amount         TEXT NOT NULL,                     -- signed, quote: + deposit
    source         TEXT NOT NULL CHECK (source IN ('ledger','balance_change')),
    ref            TEXT,                              -- ledger entry id, NULL if detected
    detail         TEXT NOT NULL DEFAULT '{}',
    equity_after   TEXT,
    UNIQUE (user_id, mode, exchange_id, ref)
);
CREATE INDEX cash_flows_user_ts ON cash_flows(user_id, ts);
CREATE TABLE limit_marks (
    user_id        INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    mode           TEXT NOT NULL CHECK (mode IN ('paper','live')),
    exchange_id    TEXT NOT NULL,
    day            TEXT NOT NULL,
    start_of_day_equity TEXT NOT NULL,
    cash_flow_today TEXT NOT NULL DEFAULT '0',
    peak_equity_flow_adjusted TEXT NOT NULL,
    starting_equity_plus_flows TEXT NOT NULL,
    last_balances  TEXT,
    last_fill_id   INTEGER,
    updated_at     REAL NOT NULL,
    PRIMARY KEY (user_id, mode, exchange_id)
);
"""

# Funding payments of swap positions (issue 12, "swaps done right"), read from the venue
# (BingX ``/openApi/swap/v2/user/income``, FUNDING_FEE) and booked once each, keyed by the
# venue's id; part of the realised P&L in the reports (core/pnl.py, storage/funding.py).
MIGRATION_9 = """
CREATE TABLE funding_payments (
    funding_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    exchange_id    TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('paper','live')),
    payment_id     TEXT NOT NULL,                    -- the venue's id (BingX tranId)
    symbol         TEXT NOT NULL,
    currency       TEXT NOT NULL,
    amount         TEXT NOT NULL,                    -- signed: > 0 received, < 0 paid
    ts             REAL NOT NULL,                    -- the venue's settlement time (s)
    session_id     INTEGER,
    recorded_at    REAL NOT NULL,
    UNIQUE (user_id, exchange_id, payment_id)         -- a payment is booked once
);
CREATE INDEX funding_payments_user_ts ON funding_payments(user_id, ts);
"""

# Health (issue 15 item 4): the engine's heartbeat, one row per component (``engine``,
# ``market:<exchange>:<tf>``, ``venue:<exchange>``) replaced on every beat, and what the
# bot last told the admins about each problem (so a restart of the bot neither repeats
# an alert nor forgets to say it cleared).
MIGRATION_10 = """
CREATE TABLE engine_heartbeats (
    component  TEXT PRIMARY KEY,
    beat_at    REAL NOT NULL,
    data       TEXT NOT NULL
);
CREATE TABLE health_alerts (
    problem    TEXT PRIMARY KEY,
    text       TEXT NOT NULL,
    since      REAL NOT NULL
);
"""

# Registration modes (issue 14 item 5): in approval mode a newcomer's /start becomes a
# join request that an admin approves (the user is registered then) or rejects.
MIGRATION_11 = """
CREATE TABLE join_requests (
    user_id       INTEGER PRIMARY KEY,
    chat_id       INTEGER NOT NULL,
    username      TEXT,
    first_name    TEXT,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending','approved','rejected')),
    requested_at  REAL NOT NULL,
    decided_by    INTEGER,
    decided_at    REAL
);
CREATE INDEX join_requests_pending ON join_requests(status, requested_at);
"""

# Typed outbox rows (issue 14 item 2, phase 2): the engine and the services queue an
# event (``core.events_codec``: its type and a JSON payload of its data), rendered by
# the bot's sender when it sends; ``text`` stays for rows queued as text ('' for events).
MIGRATION_12 = """
ALTER TABLE outbox ADD COLUMN event_type TEXT;
ALTER TABLE outbox ADD COLUMN payload TEXT;
"""

# Join requests are never lost (issue 14 item 5): when an admin was last shown the
# request (NULL: no admin has seen it yet, so the newcomer's next /start asks again).
MIGRATION_13 = """
ALTER TABLE join_requests ADD COLUMN asked_at REAL;
"""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, MIGRATION_1),
    (2, MIGRATION_2),
    (3, MIGRATION_3),
    (4, MIGRATION_4),
    (5, MIGRATION_5),
    (6, MIGRATION_6),
    (7, MIGRATION_7),
    (8, MIGRATION_8),
    (9, MIGRATION_9),
    (10, MIGRATION_10),
    (11, MIGRATION_11),
    (12, MIGRATION_12),
    (13, MIGRATION_13),
)


async def apply_migrations(conn: aiosqlite.Connection) -> list[int]:
    """Apply every migration not yet recorded, each in its own IMMEDIATE transaction.
    Returns the versions applied now (empty when up to date)."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    applied = []
    for version, sql in MIGRATIONS:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            async with conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
            ) as cur:
                done = await cur.fetchone()
            if not done:
                for statement in _statements(sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
                applied.append(version)
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
