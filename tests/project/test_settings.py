import pytest

from sentinelle.env import SettingError, env_bool, env_int, env_list, env_secret, env_str


def test_env_bool_reads_common_spellings():
    assert env_bool("X", environ={"X": "Yes"}) is True
    assert env_bool("X", environ={"X": "off"}) is False
    assert env_bool("X", True, environ={}) is True


def test_env_bool_refuses_nonsense_naming_the_variable():
    with pytest.raises(SettingError, match="SENTINELLE_DEBUG"):
        env_bool("SENTINELLE_DEBUG", environ={"SENTINELLE_DEBUG": "maybe"})


def test_env_int_and_list():
    assert env_int("N", 5, environ={"N": "26_214_400"}) == 26_214_400
    assert env_int("N", 5, environ={}) == 5
    with pytest.raises(SettingError, match="N="):
        env_int("N", 5, environ={"N": "ten"})
    assert env_list("H", environ={"H": "a.example, b.example,,"}) == ["a.example", "b.example"]
    assert env_str("S", "d", environ={}) == "d"


def test_env_secret_prefers_the_file(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-file\n")
    environ = {"K": "from-env", "K_FILE": str(secret)}
    assert env_secret("K", environ=environ) == "from-file"
    assert env_secret("K", environ={"K": "from-env"}) == "from-env"


def test_env_secret_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(SettingError, match="K_FILE"):
        env_secret("K", environ={"K_FILE": str(tmp_path / "missing")})


def test_env_secret_binary_file_is_a_clear_error(tmp_path):
    # An operator who points SENTINELLE_SECRET_KEY_FILE at the key a data directory generated
    # (raw bytes) is told what to do, not shown a UnicodeDecodeError.
    key = tmp_path / "secret_key"
    key.write_bytes(b"\x8f\xb0" * 24)
    with pytest.raises(SettingError, match="K_FILE=.*not a text file"):
        env_secret("K", environ={"K_FILE": str(key)})


def test_settings_module_reads_database_url(monkeypatch):
    import importlib

    import sentinelle.settings as settings_module

    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5433/sent")
    monkeypatch.setenv("SENTINELLE_EVIDENCE_MAX_BYTES", "1000")
    try:
        reloaded = importlib.reload(settings_module)
        assert reloaded.DATABASES["default"]["HOST"] == "db.example"
        assert reloaded.DATABASES["default"]["PORT"] == 5433
        assert reloaded.EVIDENCE_MAX_BYTES == 1000
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)
