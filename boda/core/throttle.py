"""Login throttles shared by every process: failures counted per username and per address.

Kept in the database (or Redis, when the queue is on Redis), so a guess sent to one web
process counts on all of them, and a restart forgets nothing.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, select

from boda.core.db import Database, utcnow
from boda.core.errors import RateLimited
from boda.core.models import LoginFailure


class LoginThrottle(Protocol):
    def check(self, address: str, username: str) -> None:
        """Raise `RateLimited` when the name or the address failed too often of late."""

    def failed(self, address: str, username: str) -> None:
        """Count one failed login against the name and the address."""

    def succeeded(self, address: str, username: str) -> None:
        """Forget the name's failures (the address keeps its own: one good account must not clear it)."""


def address_key(address: str) -> str:
    """IPv6 clients are counted per /64: one host usually holds the whole prefix."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(address: str, username: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("user", username.strip().lower()[:255]), ("address", address_key(address))


def _refuse(wait: float) -> RateLimited:
    seconds = max(1, int(wait) + 1)
    return RateLimited(f"Too many failed logins; try again in {seconds} s",
                       details={"retry_after": seconds}, key="too_many_logins")


class DbLoginThrottle:
    """Failures as rows; each check counts the rows inside the window."""

    def __init__(self, db: Database, *, per_user: int, per_address: int, window_seconds: float) -> None:
        self.db, self.window = db, timedelta(seconds=window_seconds)
        self.limits = {"user": per_user, "address": per_address}

    def check(self, address: str, username: str) -> None:
        since = utcnow() - self.window
        with self.db.session() as session:
            for scope, key in _keys(address, username):
                count, oldest = session.execute(
                    select(func.count(), func.min(LoginFailure.at)).where(
                        LoginFailure.scope == scope, LoginFailure.key == key, LoginFailure.at > since)).one()
                if count >= self.limits[scope]:
                    raise _refuse((_aware(oldest) + self.window - utcnow()).total_seconds())

    def failed(self, address: str, username: str) -> None:
        now = utcnow()
        with self.db.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.window))
            session.add_all(LoginFailure(scope=scope, key=key, at=now) for scope, key in _keys(address, username))

    def succeeded(self, address: str, username: str) -> None:
        scope, key = _keys(address, username)[0]
        with self.db.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.scope == scope, LoginFailure.key == key))


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)  # func.min() skips the column's type


class RedisLoginThrottle:
    """Failures as sorted sets of timestamps, one per name and per address, expiring with the window."""

    def __init__(self, url: str, *, per_user: int, per_address: int, window_seconds: float) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        self.window = window_seconds
        self.limits = {"user": per_user, "address": per_address}

    @staticmethod
    def _name(scope: str, key: str) -> str:
        return f"boda:login-failures:{scope}:{key}"

    def check(self, address: str, username: str) -> None:
        now = time.time()
        for scope, key in _keys(address, username):
            name = self._name(scope, key)
            pipe = self.redis.pipeline()
            pipe.zremrangebyscore(name, "-inf", now - self.window)
            pipe.zcard(name)
            pipe.zrange(name, 0, 0, withscores=True)
            _, count, oldest = pipe.execute()
            if count >= self.limits[scope]:
                raise _refuse(oldest[0][1] + self.window - now)

    def failed(self, address: str, username: str) -> None:
        now = time.time()
        pipe = self.redis.pipeline()
        for scope, key in _keys(address, username):
            name = self._name(scope, key)
            pipe.zadd(name, {uuid.uuid4().hex: now})
            pipe.zremrangebyscore(name, "-inf", now - self.window)
            pipe.expire(name, int(self.window) + 1)
        pipe.execute()

    def succeeded(self, address: str, username: str) -> None:
        self.redis.delete(self._name(*_keys(address, username)[0]))
