"""Settings from the environment; credentials never printable."""

from __future__ import annotations

import pytest
from hybridstream.contract import Network
from hybridstream.routing import Mode
from hybridstream.settings import StreamSettings

SECRET = "s3cr3t-VALUE-never-shown"


def test_env_names_and_url_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_API_KEY", "key-visible-nowhere")
    monkeypatch.setenv("BYBIT_API_SECRET", SECRET)
    monkeypatch.setenv("HYBRID_MODE", "parallel")
    monkeypatch.setenv("BYBIT_NETWORK", "testnet")
    monkeypatch.setenv("BYBIT_REST_URL", "http://127.0.0.1:1/")
    s = StreamSettings()  # type: ignore[call-arg]
    assert (s.mode, s.network) == (Mode.PARALLEL, Network.TESTNET)
    assert s.rest_url == "http://127.0.0.1:1"
    assert s.ws_public_url == "wss://stream-testnet.bybit.com/v5/public/linear"
    for text in (str(s), repr(s), s.model_dump_json()):
        assert SECRET not in text and "key-visible-nowhere" not in text


def test_missing_credentials_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BYBIT_API_KEY", raising=False)
    monkeypatch.delenv("BYBIT_API_SECRET", raising=False)
    with pytest.raises(ValueError, match="BYBIT_API_KEY"):
        StreamSettings()  # type: ignore[call-arg]
