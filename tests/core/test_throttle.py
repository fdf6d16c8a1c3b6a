"""The login throttle: per username and per address, shared by every process, blind to forged headers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from boda.core.config import Settings
from boda.core.errors import RateLimited
from boda.core.throttle import RedisLoginThrottle, address_key
from boda.web.app import create_app
from tests.conftest import PASSWORD, make_account, make_settings

LIMITS = {"login_failures_per_user": 3, "login_failures_per_address": 5}


def _login(client: TestClient, username: str, password: str = "wrong-guess", **headers: str) -> int:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password}, headers=headers)
    if response.status_code == 429:
        assert response.json()["error"]["code"] == "rate_limited" and int(response.headers["retry-after"]) > 0
    return response.status_code


@pytest.fixture
def throttled(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url, **LIMITS)


@pytest.fixture
def two_processes(throttled: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two web apps on one database, as two `boda serve` processes behind a balancer."""
    with ExitStack() as stack:
        first = stack.enter_context(TestClient(create_app(throttled)))
        second = stack.enter_context(TestClient(create_app(throttled)))
        make_account(first.app.state.runtime, first, "alice")  # type: ignore[attr-defined]
        yield first, second


def test_a_guess_on_one_process_counts_on_the_other(two_processes: tuple[TestClient, TestClient]) -> None:
    first, second = two_processes
    assert [_login(first, "alice"), _login(second, "alice"), _login(first, "Alice")] == [401, 401, 401]
    assert _login(second, "alice", PASSWORD) == 429  # even the right password waits
    assert _login(first, "alice", PASSWORD) == 429


def test_per_address_limit_across_names(two_processes: tuple[TestClient, TestClient]) -> None:
    first, second = two_processes
    for i in range(5):  # a spray of names, two failures at most per name
        assert _login(first if i % 2 else second, f"name{i}") == 401
    assert _login(first, "fresh-name") == 429
    assert _login(second, "alice", PASSWORD) == 429  # the address waits, whatever the name


def test_forged_forwarded_for_gets_no_fresh_allowance(two_processes: tuple[TestClient, TestClient]) -> None:
    first, _ = two_processes
    for i in range(5):
        assert _login(first, f"n{i}", **{"x-forwarded-for": f"198.51.100.{i}"}) == 401
    assert _login(first, "another", **{"x-forwarded-for": "198.51.100.200"}) == 429


def test_success_clears_the_name_not_the_address(two_processes: tuple[TestClient, TestClient]) -> None:
    first, second = two_processes
    assert [_login(first, "alice"), _login(second, "alice")] == [401, 401]
    assert _login(first, "alice", PASSWORD) == 200
    assert [_login(first, "alice"), _login(second, "alice")] == [401, 401]  # a fresh count for the name
    assert _login(first, "bob") == 401  # the 5th failure from this address
    assert _login(first, "alice", PASSWORD) == 429


def test_behind_a_trusted_proxy(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url, trusted_proxies=["10.0.0.0/8"], **LIMITS)
    app = create_app(settings)
    with TestClient(app, client=("10.1.2.3", 40000)) as proxy, TestClient(app, client=("203.0.113.9", 1)) as direct:
        make_account(app.state.runtime, proxy, "alice")
        for i in range(5):  # what the client wrote (left) is ignored; the proxy's hop (right) counts
            assert _login(proxy, f"n{i}", **{"x-forwarded-for": f"192.0.2.{i}, 203.0.113.5"}) == 401
        assert _login(proxy, "other", **{"x-forwarded-for": "203.0.113.5"}) == 429
        assert _login(proxy, "alice", PASSWORD, **{"x-forwarded-for": "203.0.113.6, 10.9.9.9"}) == 200
        # A client that is not a trusted proxy cannot claim to be someone else.
        for i in range(5):
            assert _login(direct, f"d{i}", **{"x-forwarded-for": "203.0.113.6"}) == 401
        assert _login(direct, "alice", PASSWORD, **{"x-forwarded-for": "203.0.113.6"}) == 429
        assert _login(proxy, "alice", PASSWORD, **{"x-forwarded-for": "203.0.113.6"}) == 200


def test_bad_trusted_proxy_setting_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        make_settings(tmp_path, "sqlite://", trusted_proxies=["10.0.0.0/33"])


def test_ipv6_clients_count_per_prefix() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("testclient") == "testclient"


@pytest.mark.redis
def test_redis_throttle_is_shared(redis_url: str) -> None:
    one, two = (RedisLoginThrottle(redis_url, per_user=2, per_address=3, window_seconds=60) for _ in range(2))
    one.redis.flushdb()
    one.failed("192.0.2.1", "alice")
    two.failed("192.0.2.2", "ALICE")
    with pytest.raises(RateLimited) as refused:
        one.check("192.0.2.3", "alice")
    assert 0 < refused.value.details["retry_after"] <= 61
    two.succeeded("192.0.2.3", "alice")
    one.check("192.0.2.3", "alice")  # the name's count is gone
    one.failed("192.0.2.1", "x")
    two.failed("192.0.2.1", "z")
    with pytest.raises(RateLimited):
        two.check("192.0.2.1", "y")  # three failures from 192.0.2.1
