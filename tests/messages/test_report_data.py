"""The renderer reads the services' report types through the protocols of
``messages/report_data.py``: every member a protocol names must exist on the type the
services really return (a renamed field fails here rather than in a user's chat)."""

from __future__ import annotations

import dataclasses

import pytest

from nija_tg.core.pnl import PeriodStats
from nija_tg.messages import report_data as rd
from nija_tg.messages import report_samples as samples
from nija_tg.services import (
    admin_service,
    connect_service,
    health_service,
    reports_service,
    settings_service,
    trading_service,
)
from nija_tg.storage import admin_queries, audit, users

PAIRS = [
    (rd.Person, users.UserRow),
    (rd.Member, users.UserRow),
    (rd.Viewing, reports_service.Access),
    (rd.Dashboard, reports_service.Dashboard),
    (rd.Connection, connect_service.ConnectionInfo),
    (rd.BalanceLine, reports_service.BalanceLineView),
    (rd.Balances, reports_service.BalanceReport),
    (rd.Position, reports_service.PositionView),
    (rd.Positions, reports_service.PositionsReport),
    (rd.CloseTarget, trading_service.CloseTarget),
    (rd.Trade, reports_service.TradeView),
    (rd.Session, reports_service.SessionView),
    (rd.Pnl, reports_service.PnlReport),
    (rd.Day, reports_service.DayRow),
    (rd.Daily, reports_service.DailyReport),
    (rd.Pair, reports_service.PairRow),
    (rd.Performance, reports_service.PerformanceReport),
    (rd.UserLine, admin_queries.UserOverview),
    (rd.UserTotals, admin_queries.Totals),
    (rd.UsersPage, admin_service.UsersPage),
    (rd.Credential, admin_queries.CredentialInfo),
    (rd.UserDetail, admin_service.UserDetail),
    (rd.AuditEntry, audit.AuditRow),
    (rd.HealthChange, health_service.AlertChange),
    (rd.SettingAllowed, settings_service.Allowed),
    (rd.SettingLine, settings_service.SettingLine),
    (rd.SettingsView, settings_service.SettingsView),
    (rd.SettingChange, settings_service.Change),
    (rd.SettingOption, settings_service.Option),
    (rd.SettingEditor, settings_service.SettingEditor),
    (rd.PairsView, settings_service.PairsView),
    (rd.PairsEdit, settings_service.PairsEdit),
]


def members(protocol: type) -> set[str]:
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass is object or klass.__name__ in ("Protocol", "Generic"):
            continue
        names |= {n for n, v in vars(klass).items() if isinstance(v, property)}
    return names


def provided(cls: type) -> set[str]:
    names = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    return names | {n for n in dir(cls) if not n.startswith("_")}


@pytest.mark.parametrize("protocol, real", PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_the_service_type_has_every_member_the_renderer_reads(protocol, real):
    assert members(protocol), protocol
    assert members(protocol) - provided(real) == set()


@pytest.mark.parametrize("protocol, real", PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_the_catalogue_samples_have_them_too(protocol, real):
    sample_types = {
        name: cls for name, cls in vars(samples).items() if dataclasses.is_dataclass(cls)
    }
    own = {"Person": "User", "Member": "User"}
    sample = sample_types[own.get(protocol.__name__, protocol.__name__)]
    assert members(protocol) - provided(sample) == set()


def test_period_stats_is_the_core_type():
    assert rd.PeriodStats is PeriodStats


def test_every_protocol_is_checked():
    protocols = {
        cls for cls in vars(rd).values()
        if isinstance(cls, type) and getattr(cls, "_is_protocol", False)
        and cls.__module__ == rd.__name__
    }  # fmt: skip
    assert protocols == {p for p, _ in PAIRS}
