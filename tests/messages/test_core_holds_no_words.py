"""#14 "one renderer owns every word", for errors and refusals: the lowest layers say
what happened as data and ``nija_tg/messages`` words it.

- Errors carry a code and params (``core.errors``); their words are
  ``messages/errors.py`` (``WORDS``), which has words for every code the code base
  raises: each error class's ``code``, every ``code="..."`` given at a raise, every row
  of the ccxt table.
- The modules cleaned of words write no ``user_message`` sentence and no sentence
  outside docstrings, log calls and an error's own log text: the risk check and the
  liquidation rule (``RiskFigures``), the error taxonomy and the ccxt table, the
  settings' parsers (``setting_parse``, ``risk_settings``: a /set value's refusal), the
  exchange adapters' refusals, the engine's refusal builders, the outbox (the digest
  header is ``messages.render.digest_header``) and the supervisord listener
  (``messages/operator_alerts.py``).
- The refusal events (and the key check's ``KeyRefused``) carry a typed reason, never a
  sentence; core, the engine, the adapters, storage and the services read no
  ``user_message`` (they hand on ``err.reason``).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import typing
from pathlib import Path

import nija_tg
from nija_tg.core import events as ev
from nija_tg.core.errors import ErrorReason, NijaError
from nija_tg.core.risk import RiskFigures
from nija_tg.exchange.ccxt_errors import ERROR_TABLE
from nija_tg.messages.catalogue import error_samples
from nija_tg.messages.errors import GENERIC, WORDS, text
from nija_tg.messages.render import render
from nija_tg.services import admin_service
from tests.conftest import REPO

PKG = REPO / "nija_tg"
CLEANED = (
    "core/errors.py",
    "core/risk.py",
    "core/liquidation.py",
    "core/events.py",
    "core/setting_bounds.py",
    "core/setting_parse.py",
    "core/risk_settings.py",
    "exchange/ccxt_errors.py",
    "exchange/ccxt_account.py",
    "exchange/precision.py",
    "exchange/paper.py",
    "exchange/client_ids.py",
    "exchange/protocol.py",
    "engine/loop_orders.py",
    "engine/user_closes.py",
    "engine/sim_venue.py",
    "engine/live_replay.py",
    "engine_main.py",
    "services/key_verdict.py",
    "storage/users.py",
    "storage/outbox.py",
    "fatal_listener.py",
)
# where text may stand (besides docstrings, logs and raise): the ccxt table's rows (notes
# for docs/exchange-errors.md) and the exchanges' own error texts it matches, an error's
# log text (``message``), the engine's outcome labels, SQL, the listener's protocol and
# the mark of a cut message
CALLS_WITH_TEXT = {"R"}
NAMES_WITH_TEXT = {"RECLASSIFY", "message"}
ALLOWED_LITERALS = {"not processed", "key refused", "nothing to act on", "RESULT 2\nOK", "…"}
SQL_WORDS = (
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "DELETE ",
    "FROM ",
    "WHERE ",
    " AND ",
    "ORDER BY",
    "?",
)
# the code that still hands an error's user_message on (none left)
STILL_READ: set[str] = set()


def _skipped(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))  # docstrings
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("debug", "info", "warning", "error", "exception")
        ):
            skip.update(id(sub) for sub in ast.walk(node))
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:  # the error's own (log) text
                skip.update(id(sub) for sub in ast.walk(arg))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in CALLS_WITH_TEXT:
            skip.update(id(sub) for sub in ast.walk(node))
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) in NAMES_WITH_TEXT for t in targets):
                skip.update(id(sub) for sub in ast.walk(node.value))
    return skip


def words_in(path: Path) -> list[str]:
    """Sentences written in ``path``: a ``user_message`` given or assigned as text, or a
    string literal with a space (or an emoji) outside the places listed above."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "user_message":
            found.append(f"{path.name}:{node.value.lineno}: user_message=")
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "user_message" for t in node.targets
        ):
            found.append(f"{path.name}:{node.lineno}: user_message =")
    skip = _skipped(tree)
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.Constant):
            continue
        value = node.value
        if not isinstance(value, str) or value in ALLOWED_LITERALS:
            continue
        if any(word in value.upper() for word in SQL_WORDS) or value.startswith("?"):
            continue
        if " " in value.strip() or any(ord(ch) > 0x2000 for ch in value):
            found.append(f"{path.name}:{node.lineno}: {value[:60]!r}")
    return found


def test_the_cleaned_modules_hold_no_words():
    assert [w for name in CLEANED for w in words_in(PKG / name)] == []


def test_the_check_sees_a_sentence_a_user_message_and_a_header(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text(
        "class E(Exception):\n    user_message = 'Bad.'\n"
        "def f(n, rows):\n    raise E('bad n', user_message=f'Bad {n}.')\n"
        "WHY = f'A long in {1} is open.'\n"
        "HEAD = f'📬{len(rows)}'\n"
        "log.info('a logged line is fine %s', n)\n"
    )
    assert sorted(w.split(": ", 1)[1] for w in words_in(sample)) == [
        "' is open.'",
        "'A long in '",
        "'📬'",
        "user_message =",
        "user_message=",
    ]


def test_the_check_sees_a_sentence_put_back_in_the_settings_parsers(tmp_path):
    """The words the settings' parsers held before they moved to codes, put back."""
    put_back = {
        "core/setting_parse.py": (
            "def range_message(name, kind, lo, hi):\n"
            "    what = 'a whole number' if kind == 'int' else 'a number'\n"
            "    return f'{name} must be {what} between {lo} and {hi}.'\n"
        ),
        "core/risk_settings.py": (
            "def refuse():\n    raise PermissionDeniedError(\n"
            "        'trade-only', user_message='Your account is trade-only.')\n"
        ),
    }
    for name, code in put_back.items():
        sample = tmp_path / Path(name).name
        sample.write_text((PKG / name).read_text() + "\n\n" + code)
        assert words_in(sample), name


def test_the_moved_services_write_no_user_message():
    """Their refusals are codes now (admin, bounds, connect); key_verdict's too."""
    moved = ("admin_service.py", "bounds_service.py", "connect_service.py", "key_verdict.py")
    assert [w for name in moved for w in words_in(PKG / "services" / name) if "user_" in w] == []


def _reads_user_message(path: Path) -> bool:
    return any(
        isinstance(node, ast.Attribute) and node.attr == "user_message"
        for node in ast.walk(ast.parse(path.read_text()))
    )


def test_engine_services_storage_and_adapters_pass_on_no_user_message():
    """They hand on an error's code (``err.reason``), never its sentence."""
    readers = {
        str(path.relative_to(PKG))
        for layer in ("core", "engine", "exchange", "services", "storage", "vault")
        for path in sorted((PKG / layer).glob("*.py"))
        if _reads_user_message(path)
    }
    assert readers - {"core/errors.py"} == STILL_READ


def test_refusal_events_carry_a_typed_reason():
    hints = {cls: typing.get_type_hints(cls) for cls in typing.get_args(ev.Event)}
    for cls in (ev.StopOrderRefused, ev.ExitRefused, ev.EntryRefused, ev.PositionModeRefused):
        assert hints[cls]["reason"] is ErrorReason, cls.__name__
    assert hints[ev.EntryBlocked]["figures"] is RiskFigures
    assert hints[ev.CloseRefused]["refused"] == tuple[tuple[str, ErrorReason], ...]
    assert not any("why" in fields for fields in hints.values())
    # an admin bound's changes to a user's settings: names and values, worded by render
    assert hints[ev.SettingsClamped]["changes"] == tuple[ev.SettingChange, ...]


def _modules():
    for info in pkgutil.walk_packages(nija_tg.__path__, "nija_tg."):
        if info.name.endswith(("__main__", "_main")) or ".strategies." in info.name:
            continue
        yield importlib.import_module(info.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def codes_given_in_source() -> set[str]:
    codes = set()
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "code":
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    codes.add(node.value.value)
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "ErrorReason"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                codes.add(node.args[0].value)
    return codes


def test_every_error_code_has_words():
    for module in _modules():
        del module  # imported: its error classes are registered
    classes = {cls.code for cls in [NijaError, *_subclasses(NijaError)]}
    rows = {row.code for row in ERROR_TABLE if row.code}
    given = codes_given_in_source()
    assert "below_min_cost" in given and "exchange_not_answering" in given  # seen
    assert (classes | rows | given) - set(WORDS) == set()


def test_the_catalogue_shows_every_error_codes_own_words():
    shown = dict(error_samples())
    assert shown.keys() == WORDS.keys()
    assert [code for code, words in shown.items() if words == GENERIC] == ["error"]


def test_params_are_worded_with_the_number_format():
    reason = ErrorReason(
        "below_min_cost",
        (("cost", "4.2051"), ("min_cost", "5"), ("quote", "USD"), ("symbol", "ETH/USD")),
    )
    assert text(reason) == (
        "Order too small for ETH/USD: minimum value is 5.00 USD, the order was about 4.21."
    )
    assert ErrorReason.decode(reason.encode()) == reason
    assert ErrorReason.decode("not processed by the exchange").code == "exchange_error"
    assert text(ErrorReason("no_such_code")) == WORDS["error"]
    assert text(ErrorReason("below_min_cost")) == WORDS["error"]  # params missing


def test_an_admin_pause_without_a_reason_stores_and_tells_none():
    assert admin_service.DEFAULT_REASON is None
    assert "Reason" not in render(ev.PausedByAdmin(None))
    assert "Reason: risk &amp; more" in render(ev.PausedByAdmin("risk & more"))


def test_a_callers_own_sentence_is_still_shown():
    err = NijaError("x", user_message="The reason is too long (max 200).")
    assert text(err) == "The reason is too long (max 200)."
    assert text(NijaError("x", code="market_closed")) == WORDS["market_closed"]
