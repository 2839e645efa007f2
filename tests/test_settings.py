"""Settings from IDP_* variables: production refuses what would be unsafe, and a mistake is one clear line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from idp.settings import DEVELOPMENT_PASSWORD_PEPPER, Settings, SettingsError

SECRET = "s" * 40
PEPPER = "p" * 40
PRODUCTION = {"IDP_ENV": "production", "IDP_SECRET_KEY": SECRET, "IDP_PASSWORD_PEPPER": PEPPER,
              "IDP_ISSUER": "https://lk.example.test",
              "IDP_DELIVERY_MODE": "worker", "IDP_EMAIL_TRANSPORT": "ses", "IDP_SMS_TRANSPORT": "sns"}


def settings(tmp_path, **variables) -> Settings:
    return Settings.from_env(environ={"IDP_INSTANCE_DIR": str(tmp_path), **variables})


def test_a_sound_production_configuration_is_accepted(tmp_path):
    made = settings(tmp_path, **PRODUCTION)
    assert made.production and made.secret_key == SECRET and made.issuer == "https://lk.example.test"
    assert made.password_pepper == PEPPER and PEPPER not in repr(made)


@pytest.mark.parametrize("change, message", [
    ({"IDP_SECRET_KEY": ""}, "IDP_SECRET_KEY is not set"),
    ({"IDP_SECRET_KEY": "short"}, "IDP_SECRET_KEY is too short"),
    ({"IDP_PASSWORD_PEPPER": ""}, "IDP_PASSWORD_PEPPER is not set: production mode refuses to start without it"),
    ({"IDP_PASSWORD_PEPPER": "short"}, "IDP_PASSWORD_PEPPER is too short"),
    ({"IDP_PASSWORD_PEPPER": DEVELOPMENT_PASSWORD_PEPPER}, "IDP_PASSWORD_PEPPER is the published development pepper"),
    ({"IDP_PASSWORD_PEPPER": SECRET}, "IDP_PASSWORD_PEPPER must differ from IDP_SECRET_KEY"),
    ({"IDP_ISSUER": "http://lk.example.test"}, "IDP_ISSUER must be an https:// URL"),
    ({"IDP_BCRYPT_ROUNDS": "8"}, "too weak for production"),
    ({"IDP_DELIVERY_MODE": "inline", "IDP_EMAIL_TRANSPORT": "ses"}, "IDP_DELIVERY_MODE=inline with SES/SNS"),
    ({"IDP_DELIVERY_MODE": "inline", "IDP_SMS_TRANSPORT": "sns"}, "IDP_DELIVERY_MODE=inline with SES/SNS"),
    ({"IDP_EMAIL_TRANSPORT": "mailbox"}, "IDP_EMAIL_TRANSPORT=mailbox writes temporary passwords to a local file"),
    ({"IDP_SMS_TRANSPORT": "mailbox"}, "IDP_SMS_TRANSPORT=mailbox writes temporary passwords to a local file"),
    ({"IDP_DELIVERY_MODE": "inline", "IDP_EMAIL_TRANSPORT": "mailbox", "IDP_SMS_TRANSPORT": "mailbox"},
     "IDP_EMAIL_TRANSPORT=mailbox"),
])
def test_production_refuses_what_is_unsafe(tmp_path, change, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        settings(tmp_path, **{**PRODUCTION, **change})


def test_development_allows_the_demo_defaults(tmp_path):
    made = settings(tmp_path)
    assert not made.production and made.delivery_mode == "inline" and len(made.secret_key) >= 32
    assert settings(tmp_path, IDP_EMAIL_TRANSPORT="ses").delivery_mode == "inline"


def test_development_without_a_pepper_uses_the_fixed_published_one(tmp_path, caplog):
    """Not a random one: the demo's SQLite passwords must still sign in after a restart."""
    with caplog.at_level("WARNING", logger="idp.settings"):
        first, second = settings(tmp_path), settings(tmp_path, IDP_SECRET_KEY=SECRET)
    assert first.password_pepper == second.password_pepper == DEVELOPMENT_PASSWORD_PEPPER
    assert "IDP_PASSWORD_PEPPER is not set" in caplog.text and DEVELOPMENT_PASSWORD_PEPPER not in caplog.text
    assert settings(tmp_path, IDP_PASSWORD_PEPPER="mine").password_pepper == "mine"


def test_the_pepper_is_its_own_setting_not_derived_from_the_secret_key(tmp_path):
    made = settings(tmp_path, **{**PRODUCTION, "IDP_SECRET_KEY": "t" * 40})
    assert made.password_pepper == PEPPER  # the secret key rotates without touching passwords


@pytest.mark.parametrize("variables, message", [
    ({"IDP_BCRYPT_ROUNDS": "abc"}, "IDP_BCRYPT_ROUNDS must be a whole number, got 'abc'"),
    ({"IDP_ENV": "staging"}, "IDP_ENV must be 'development' or 'production'"),
    ({"IDP_DELIVERY_MODE": "later"}, "IDP_DELIVERY_MODE must be 'inline' or 'worker'"),
    ({"IDP_EMAIL_TRANSPORT": "smtp"}, "IDP_EMAIL_TRANSPORT must be 'mailbox' or 'ses'"),
    ({"IDP_TEMP_PASSWORD_TTL": "0"}, "IDP_TEMP_PASSWORD_TTL must be a positive number"),
])
def test_a_wrong_value_names_the_variable(tmp_path, variables, message):
    with pytest.raises(SettingsError) as caught:
        settings(tmp_path, **variables)
    assert message in str(caught.value)


def _run(argv, tmp_path, **variables):
    env = {"PATH": os.environ["PATH"], "IDP_INSTANCE_DIR": str(tmp_path), **variables}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_the_cli_reports_a_configuration_error_in_one_line(tmp_path):
    idp = str(Path(sys.executable).parent / "idp")
    result = _run([idp, "accounts", "show", "client@example.com"], tmp_path, IDP_ENV="production")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "idp: configuration error: IDP_SECRET_KEY is not set: production mode refuses to start without it "
        "(use a random value of at least 32 bytes, shared by all instances)"]


def test_the_wsgi_entry_point_refuses_to_start_with_one_line(tmp_path):
    result = _run([sys.executable, "-c", "import idp.wsgi"], tmp_path, IDP_ENV="production",
                  PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "idp: configuration error: IDP_SECRET_KEY is not set" in result.stderr


def test_production_without_a_pepper_refuses_to_start(tmp_path):
    variables = {k: v for k, v in PRODUCTION.items() if k != "IDP_PASSWORD_PEPPER"}
    result = _run([sys.executable, "-c", "import idp.wsgi"], tmp_path, **variables,
                  PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "idp: configuration error: IDP_PASSWORD_PEPPER is not set" in result.stderr


def test_only_a_made_up_key_counts_as_ephemeral(tmp_path):
    from idp.settings import has_ephemeral_secret_key

    assert has_ephemeral_secret_key(settings(tmp_path))
    assert not has_ephemeral_secret_key(settings(tmp_path, IDP_SECRET_KEY=SECRET))


@pytest.mark.parametrize("bind", ["9464", "127.0.0.1", ":9464", "127.0.0.1:0", "127.0.0.1:65536",
                                  "127.0.0.1:metrics", "[]:9464"])
def test_a_wrong_metrics_bind_names_the_variable(tmp_path, bind):
    with pytest.raises(SettingsError, match=re.escape(f"IDP_METRICS_BIND must be host:port (e.g. 127.0.0.1:9464), "
                                                      f"got {bind!r}")):
        settings(tmp_path, IDP_METRICS_BIND=bind)


def test_the_metrics_bind_is_an_address_or_nothing(tmp_path):
    assert settings(tmp_path).metrics_address is None  # unset: metrics are not served over HTTP at all
    assert settings(tmp_path, IDP_METRICS_BIND="127.0.0.1:9464").metrics_address == ("127.0.0.1", 9464)
    assert settings(tmp_path, IDP_METRICS_BIND="[::1]:9464").metrics_address == ("::1", 9464)
    assert settings(tmp_path, IDP_METRICS_BIND="10.0.0.7:9464", **PRODUCTION).metrics_address == ("10.0.0.7", 9464)


def test_the_wsgi_entry_point_refuses_a_wrong_metrics_bind_with_one_line(tmp_path):
    result = _run([sys.executable, "-c", "import idp.wsgi"], tmp_path, IDP_METRICS_BIND="127.0.0.1",
                  PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "idp: configuration error: IDP_METRICS_BIND must be host:port" in result.stderr


@pytest.mark.parametrize("variables, message", [
    ({"IDP_SIGNIN_LOGIN_CEILING": "4"}, "IDP_SIGNIN_LOGIN_CEILING must be ≥ IDP_SIGNIN_THRESHOLD"),
    ({"IDP_SIGNIN_THRESHOLD": "10", "IDP_SIGNIN_LOGIN_CEILING": "9"}, "IDP_SIGNIN_LOGIN_CEILING must be ≥"),
    ({"IDP_RESET_LOGIN_CEILING": "4"}, "IDP_RESET_LOGIN_CEILING must be ≥ IDP_RESET_PER_HOUR"),
])
def test_a_logins_ceiling_below_the_one_address_limit_is_refused(tmp_path, variables, message):
    """Below it, strangers at other addresses could use up the attempts of the customer at their own."""
    with pytest.raises(SettingsError, match=message):
        settings(tmp_path, **variables)


def test_the_three_counters_follow_the_settings(tmp_path):
    limits = settings(tmp_path, IDP_SIGNIN_THRESHOLD="3", IDP_SIGNIN_LOGIN_CEILING="60", IDP_IP_THRESHOLD="30",
                      IDP_RESET_PER_MINUTE="2", IDP_RESET_PER_HOUR="6", IDP_RESET_LOGIN_CEILING="50").limits()
    assert (limits.pair.threshold, limits.login.threshold, limits.ip.threshold) == (3, 60, 30)
    assert limits.reset_per_pair == ((2, 60), (6, 3600))
    assert limits.reset_per_login == ((20, 60), (50, 3600))
    assert limits.reset_per_ip == ((20, 60), (60, 3600))
