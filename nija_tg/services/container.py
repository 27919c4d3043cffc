"""The services a process hands to its front end or loops: one object, built by the
entry point, reached through the typed context (never a global)."""

from __future__ import annotations

from dataclasses import dataclass

from nija_tg.config import Settings
from nija_tg.services.admin_service import AdminService
from nija_tg.services.admission import Admission
from nija_tg.services.bounds_service import BoundsService
from nija_tg.services.connect_service import ConnectService
from nija_tg.services.health_service import HealthService
from nija_tg.services.reports_service import ReportsService
from nija_tg.services.settings_service import SettingsService
from nija_tg.services.trading_service import TradingService
from nija_tg.services.users_service import UserService


@dataclass
class Services:
    settings: Settings
    users: UserService
    connect: ConnectService
    trading: TradingService
    reports: ReportsService
    preferences: SettingsService
    admin: AdminService
    bounds: BoundsService
    health: HealthService
    admission: Admission
