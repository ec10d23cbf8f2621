"""CLI argument handling and that configuration never shows secrets."""

from __future__ import annotations

import argparse

import pytest
from hybridstream.simulator.command import add_arguments, build_config, parse_account
from hybridstream.simulator.config import SimulatorConfig


def test_parse_account() -> None:
    plain = parse_account("KEY:SECRET")
    assert (plain.api_key, plain.api_secret, plain.hedge_mode) == ("KEY", "SECRET", False)
    assert parse_account("KEY:SECRET:hedge").hedge_mode is True


@pytest.mark.parametrize("text", ["KEY", "KEY:", ":SECRET", "K:S:oneway", "K:S:hedge:x"])
def test_parse_account_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_account(text)


def test_build_config_from_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--symbols", "7", "--seed", "9",
                              "--account", "A:S1", "--account", "B:S2:hedge",
                              "--admin-token", "tok", "--reject-batch-on-bad-topic"])
    config = build_config(args)
    assert (config.port, config.symbols, config.seed, config.admin_token) == (0, 7, 9, "tok")
    assert [(a.api_key, a.hedge_mode) for a in config.accounts] == [("A", False), ("B", True)]
    assert config.reject_batch_on_bad_topic is True


def test_accounts_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYBRID_SIM_ACCOUNTS", "E1:S1, E2:S2:hedge")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = build_config(parser.parse_args(["--account", "A:S"]))
    assert [(a.api_key, a.hedge_mode) for a in config.accounts] == [
        ("A", False), ("E1", False), ("E2", True)]


def test_config_repr_hides_secrets() -> None:
    config = SimulatorConfig(admin_token="very-secret-token")
    text = repr(config) + str(config)
    assert "very-secret-token" not in text
    assert config.accounts[0].api_secret not in text
