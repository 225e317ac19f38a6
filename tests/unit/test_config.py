"""The TOML configuration: good files, and every bad case names its key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tidings.config import ConfigError, load_config, parse_config

ENV = {"WA_TOKEN": "tok", "WA_SECRET": "sec", "TG_TOKEN": "1:x", "TG_SECRET": "s", "UP_PW": "pw"}

GOOD = """
[connectors.wa]
type = "whatsapp"
phone_number_id = 1055
access_token_env = "WA_TOKEN"
app_secret_env = "WA_SECRET"
verify_token = "v"
base_url = "http://127.0.0.1:9/graph"
timeout_s = 3

[connectors.tg]
type = "telegram"
bot_token_env = "TG_TOKEN"
webhook_secret_env = "TG_SECRET"
accepted_status = "ACK"

[connectors.up]
type = "messente"
username = "u"
password_env = "UP_PW"

[connectors.carrier]
type = "smpp"
host = "smsc.example.com"
port = 2775
system_id = "tidings"
password = "pw"
tps = 20

[routes]
whatsapp = "wa"
telegram = "tg"
sms = "carrier"

[accounts.alice.routes]
sms = "up"
"""


def test_good_file(tmp_path: Path) -> None:
    path = tmp_path / "tidings.toml"
    path.write_text(GOOD)
    cfg = load_config(path, ENV)
    wa = cfg.connectors["wa"].settings
    assert wa.phone_number_id == "1055" and wa.access_token == "tok" and wa.app_secret == "sec"
    assert wa.http.base_url == "http://127.0.0.1:9/graph" and wa.http.timeout_s == 3.0
    assert cfg.connectors["tg"].settings.accepted_status == "ACK"
    assert cfg.connectors["up"].settings.password == "pw"
    smpp = cfg.connectors["carrier"].settings
    assert (smpp.host, smpp.port, smpp.system_id, smpp.tps, smpp.name) == (
        "smsc.example.com",
        2775,
        "tidings",
        20.0,
        "carrier",
    )
    assert cfg.route_for("whatsapp") == "wa"
    assert cfg.route_for("viber") == "sandbox"  # unrouted -> sandbox
    assert cfg.route_for("sms", "alice") == "up"
    assert cfg.route_for("sms", "bob") == "carrier"


def test_empty_file_is_all_sandbox() -> None:
    cfg = parse_config({}, {})
    assert cfg.route_for("sms") == "sandbox" and not cfg.connectors


def _wa(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "whatsapp",
        "phone_number_id": "1",
        "access_token_env": "WA_TOKEN",
        "app_secret": "s",
        "verify_token": "v",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("data", "env", "message"),
    [
        (
            {"connectors": {"wa": _wa()}},
            {},
            "connectors.wa.access_token_env: environment variable WA_TOKEN is not set",
        ),
        (
            {"connectors": {"wa": _wa(access_token_env=None)}},
            ENV,
            "connectors.wa.access_token: required (or access_token_env",
        ),
        (
            {"connectors": {"wa": _wa(access_token="x")}},
            ENV,
            "connectors.wa.access_token: give either access_token or access_token_env",
        ),
        (
            {"connectors": {"wa": _wa(phone_number_id=None)}},
            ENV,
            "connectors.wa.phone_number_id: required",
        ),
        ({"connectors": {"wa": _wa(typo=1)}}, ENV, "connectors.wa.typo: unknown setting"),
        ({"connectors": {"wa": _wa(type="fax")}}, ENV, "connectors.wa.type: must be one of"),
        (
            {"connectors": {"wa": _wa(timeout_s="soon")}},
            ENV,
            "connectors.wa.timeout_s: must be a number",
        ),
        (
            {"connectors": {"wa": _wa(base_url="ftp://x")}},
            ENV,
            "connectors.wa.base_url: must be an http",
        ),
        ({"routes": {"sms": "nope"}}, ENV, "routes.sms: no connector named 'nope'"),
        ({"routes": {"fax": "sandbox"}}, ENV, "routes.fax: unknown channel"),
        (
            {"accounts": {"alice": {"routes": {"sms": "x"}}}},
            ENV,
            "accounts.alice.routes.sms: no connector",
        ),
        ({"accounts": {"alice": {"limits": {}}}}, ENV, "accounts.alice.limits: unknown setting"),
        ({"server": {}}, ENV, "server: unknown section"),
        (
            {"connectors": {"sandbox": _wa()}},
            ENV,
            "connectors.sandbox: the name 'sandbox' is reserved",
        ),
        (
            {
                "connectors": {
                    "tg": {
                        "type": "telegram",
                        "bot_token": "t",
                        "webhook_secret": "s",
                        "accepted_status": "SEEN",
                    }
                }
            },
            ENV,
            "connectors.tg.accepted_status: must be one of DELIVRD, ACK",
        ),
        (
            {
                "connectors": {
                    "c": {
                        "type": "smpp",
                        "host": "h",
                        "system_id": "s",
                        "password": "p",
                        "port": 70000,
                    }
                }
            },
            ENV,
            "connectors.c.port: must be between 1 and 65535",
        ),
        (
            {"connectors": {"r": {"type": "rcs", "agent_id": "a", "client_token": "t"}}},
            ENV,
            "connectors.r.service_account_file: give service_account_file or service_account_json",
        ),
    ],
)
def test_bad_config_names_the_key(data: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env)
    assert message in str(exc.value)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[connectors.wa\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, {})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml", {})


def test_file_errors_are_prefixed_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[routes]\nsms = "ghost"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, {})
    assert str(exc.value) == f"{path}: routes.sms: no connector named 'ghost' in [connectors]"


def _rbm(token_uri_in_key: str | None, **extra: str) -> dict[str, Any]:
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    key = {"client_email": "a@b.iam.gserviceaccount.com", "private_key": pem}
    if token_uri_in_key is not None:
        key["token_uri"] = token_uri_in_key
    section = {"type": "rcs", "agent_id": "a", "client_token": "t", **extra}
    section["service_account_json"] = json.dumps(key)
    return {"connectors": {"r": section}}


def test_rcs_token_uri() -> None:
    """Google's token endpoint unless the key file or the `token_uri` setting says otherwise."""
    google = "https://oauth2.googleapis.com/token"
    assert parse_config(_rbm(None), {}).connectors["r"].settings.token_uri == google
    in_key = parse_config(_rbm("https://keyfile.test/token"), {})
    assert in_key.connectors["r"].settings.token_uri == "https://keyfile.test/token"
    setting = _rbm("https://keyfile.test/token", token_uri="https://proxy.test/token")
    assert (
        parse_config(setting, {}).connectors["r"].settings.token_uri == "https://proxy.test/token"
    )
