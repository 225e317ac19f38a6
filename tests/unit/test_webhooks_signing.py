"""Webhook signatures: known answers, and the standardwebhooks library verifies our headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tidings.webhooks.signing import (
    MESSENTE_SIGNATURE_HEADER,
    USER_AGENT,
    messente_signature,
    sign_headers,
    standard_headers,
    standard_signature,
    standard_webhooks_key,
    standard_webhooks_secret,
)

BODY = b'{"status":"DELIVRD","channel":"sms","message_id":"m1","to":"+3725555555","err":0}'


def test_messente_signature_known_answer() -> None:
    # printf '%s' '{"status":"DELIVRD"}' | openssl dgst -sha256 -hmac secret
    assert (
        messente_signature("secret", b'{"status":"DELIVRD"}')
        == "c571eb7d533da1b635b5073fbfab3572a0858cfbd2fd08dae4919a94ea6ad4e3"
    )


def test_messente_signature_is_keyed_with_the_secret_text() -> None:
    secret = secrets.token_hex(32)
    expected = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    assert messente_signature(secret, BODY) == expected
    assert messente_signature(secret, BODY + b" ") != expected


def test_standard_signature_known_answer() -> None:
    # printf '%s' 'msg_1.1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsecret -binary | base64
    assert (
        standard_signature("whsecret", "msg_1", 1_700_000_000, b'{"a":1}')
        == "v1,mv1E2YQH+Ma1fbSwnUbFQ24e8mnmYHSiJl2CoG+vLkA="
    )


def test_whsec_form_encodes_the_secret_bytes() -> None:
    secret = secrets.token_hex(32)
    whsec = standard_webhooks_secret(secret)
    assert whsec.startswith("whsec_")
    assert base64.b64decode(whsec.removeprefix("whsec_")) == secret.encode()
    assert standard_webhooks_key(secret) == secret.encode()


def test_library_verifies_our_headers() -> None:
    secret = secrets.token_hex(32)
    headers = sign_headers(secret, "msg_42", int(time.time()), BODY)
    assert Webhook(standard_webhooks_secret(secret)).verify(BODY, headers)["message_id"] == "m1"
    # the raw key bytes work as well
    Webhook(secret.encode()).verify(BODY, headers, json_parse=False)


def test_library_rejects_tampering_and_other_secrets() -> None:
    secret = secrets.token_hex(32)
    headers = standard_headers(secret, "msg_42", int(time.time()), BODY)
    wh = Webhook(standard_webhooks_secret(secret))
    with pytest.raises(WebhookVerificationError):
        wh.verify(BODY.replace(b"DELIVRD", b"UNDELIV"), headers)
    with pytest.raises(WebhookVerificationError):
        wh.verify(BODY, {**headers, "webhook-id": "msg_43"})
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks_secret(secrets.token_hex(32))).verify(BODY, headers)


def test_our_signature_matches_the_library_signature_byte_for_byte() -> None:
    from datetime import UTC, datetime

    secret = secrets.token_hex(32)
    ts = 1_795_805_030
    ours = standard_headers(secret, "msg_7", ts, BODY)["webhook-signature"]
    theirs = Webhook(standard_webhooks_secret(secret)).sign(
        "msg_7", datetime.fromtimestamp(ts, UTC), BODY.decode()
    )
    manual = (
        "v1,"
        + base64.b64encode(
            hmac.new(secret.encode(), b"msg_7.%d." % ts + BODY, hashlib.sha256).digest()
        ).decode()
    )
    assert ours == theirs == manual


def test_sign_headers_has_every_header() -> None:
    headers = sign_headers("s3cret", "msg_1", 1_700_000_000, BODY)
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        MESSENTE_SIGNATURE_HEADER: messente_signature("s3cret", BODY),
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": standard_signature("s3cret", "msg_1", 1_700_000_000, BODY),
    }
    assert MESSENTE_SIGNATURE_HEADER == "X-Messente-Signature"
    assert USER_AGENT == "Tidings-Webhooks/0.1"


def test_non_ascii_body_signs_the_exact_bytes() -> None:
    body = '{"text":"Tere, õun 😀"}'.encode()
    headers = sign_headers("k", "msg_1", int(time.time()), body)
    Webhook(standard_webhooks_secret("k")).verify(body, headers)


@pytest.mark.parametrize("msg_id", ["", "has space", "a,b", "line\nbreak", "x" * 257, "ü"])
def test_bad_message_ids_are_refused(msg_id: str) -> None:
    with pytest.raises(ValueError):
        standard_headers("k", msg_id, 1, BODY)


@pytest.mark.parametrize("ts", [-1, 1.5, True])
def test_bad_timestamps_are_refused(ts: object) -> None:
    with pytest.raises(ValueError):
        standard_headers("k", "msg_1", ts, BODY)  # type: ignore[arg-type]


def test_empty_secret_and_non_utf8_body_are_refused() -> None:
    with pytest.raises(ValueError):
        messente_signature("", BODY)
    with pytest.raises(ValueError):
        standard_webhooks_secret("")
    with pytest.raises(ValueError):
        standard_headers("k", "msg_1", 1, b"\xff\xfe")
