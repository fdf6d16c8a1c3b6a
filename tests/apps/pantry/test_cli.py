"""`boda pantry add / list / use-soon` on a fresh data folder."""

from __future__ import annotations

from collections.abc import Callable


def test_cli_add_list_use_soon(run: Callable[..., str]) -> None:
    run("user", "create", "mina", "--password", "correct horse battery")
    added = run("pantry", "add", "삼겹살", "--qty", "600", "--unit", "g", "--user", "mina")
    assert "삼겹살 600g" in added and "냉장고 Fridge" in added
    assert "Freezer" in run("pantry", "add", "대파", "--place", "freezer", "--user", "mina")
    assert "no date" in run("pantry", "add", "플럼보블", "--user", "mina")
    listed = run("pantry", "list", "--user", "mina")
    assert listed.index("삼겹살") < listed.index("대파") < listed.index("플럼보블")  # soonest first, undated last
    soon = run("pantry", "use-soon", "--user", "mina")
    assert "삼겹살" in soon and "대파" not in soon and "+3" in soon
    assert "No place named" in run("pantry", "add", "양파", "--place", "garage", "--user", "mina", code=1)
    assert "No user named" in run("pantry", "list", "--user", "nobody", code=1)
