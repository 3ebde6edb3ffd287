"""Bad configuration is refused with one line that names the variable to set."""

from __future__ import annotations

import pytest

from hrflow.settings import ConfigurationError, Settings, load_settings


def _settings(**kw) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


def test_missing_values_name_the_variable() -> None:
    s = _settings()
    with pytest.raises(ConfigurationError, match="HRFLOW_DATABASE_URL is not set"):
        s.require_database_url()
    with pytest.raises(ConfigurationError, match="HRFLOW_JWT_SECRET is not set"):
        s.require_jwt_secret()
    with pytest.raises(ConfigurationError, match="HRFLOW_CODEC_KEYS is not set"):
        s.require_codec_keys()


def test_wrong_values_are_explained() -> None:
    with pytest.raises(ConfigurationError, match="too short"):
        _settings(jwt_secret="short").require_jwt_secret()
    with pytest.raises(ConfigurationError, match="must be a PostgreSQL URL"):
        _settings(database_url="mysql://x/y").require_database_url()
    with pytest.raises(ConfigurationError, match="HRFLOW_CODEC_ACTIVE_KEY"):
        _settings(codec_keys={"a": "A" * 43 + "="}, codec_active_key="b").require_codec_keys()


def test_invalid_environment_value_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv("HRFLOW_API_PORT", "not-a-port")
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert str(err.value).startswith("HRFLOW_API_PORT:") and "\n" not in str(err.value)
    monkeypatch.delenv("HRFLOW_API_PORT")
    monkeypatch.setenv("HRFLOW_CODEC_KEYS", '{"k1": "c2hvcnQ="}')
    with pytest.raises(ConfigurationError, match="must be 32 bytes"):
        load_settings()


async def test_unreachable_temporal_is_one_line(codec_keys) -> None:
    from hrflow.temporal import connect

    s = _settings(temporal_address="127.0.0.1:1", codec_keys=codec_keys)
    with pytest.raises(ConfigurationError, match="cannot reach Temporal at 127.0.0.1:1.*HRFLOW_TEMPORAL_ADDRESS"):
        await connect(s)
