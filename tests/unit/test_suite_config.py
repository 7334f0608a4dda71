"""`postsched up`'s state directory configuration, without processes: random tokens made once and
kept, the short dev tokens of older state directories replaced, the file readable by its owner only."""

from __future__ import annotations

import json
from pathlib import Path

from postsched.auth import MIN_TOKEN_LENGTH, operator_tokens, tenant_tokens
from postsched.suite import load_state_config, suite_tokens


def test_tokens_are_random_long_kept_and_private(tmp_path: Path) -> None:
    first = load_state_config(tmp_path)
    assert load_state_config(tmp_path) == first  # kept across starts
    assert load_state_config(tmp_path / "other") != first  # random per state directory
    tenant, admin = suite_tokens(tmp_path, {})
    assert len(tenant) >= MIN_TOKEN_LENGTH and len(admin) >= MIN_TOKEN_LENGTH
    assert (tmp_path / "config.json").stat().st_mode & 0o077 == 0
    # What `postsched serve` is given passes its own checks.
    assert tenant_tokens(first).names() == {"demo"} and operator_tokens(first).names() == {"operator"}
    # The environment wins, as it does for `postsched up`.
    assert suite_tokens(tmp_path, {"POSTSCHED_API_TOKENS": "acme:" + "e" * 32})[0] == "e" * 32


def test_the_short_dev_tokens_of_an_older_state_directory_are_replaced(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "config.json").write_text(json.dumps({
        "POSTSCHED_SECRET_KEY": "kept", "POSTSCHED_API_TOKENS": "demo:dev-token", "POSTSCHED_ADMIN_TOKEN": "dev-admin-token"}))
    config = load_state_config(tmp_path)
    assert config["POSTSCHED_SECRET_KEY"] == "kept"  # the encrypted credentials stay readable
    assert config["POSTSCHED_API_TOKENS"].startswith("demo:") and "dev-token" not in config["POSTSCHED_API_TOKENS"]
    assert config["POSTSCHED_ADMIN_TOKEN"] != "dev-admin-token"
    assert json.loads((tmp_path / "config.json").read_text()) == config
    assert "short dev token" in capsys.readouterr().out
