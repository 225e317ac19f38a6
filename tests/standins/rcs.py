"""Stand-in of Google RCS Business Messaging: the OAuth2 token endpoint (verifies the service
account's RS256 JWT with its public key) and `phones/{msisdn}/agentMessages`; events are signed
as Google signs them (`X-Goog-Signature`: base64 HMAC-SHA512 of the decoded message.data)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@dataclass
class RcsStandin:
    """Behaviour per msisdn: "ok" (default), "no_rcs" (404 NOT_FOUND)."""

    client_email: str = "tidings@project.iam.gserviceaccount.com"
    client_token: str = "rbm-client-token"
    behaviour: dict[str, str] = field(default_factory=dict)
    received: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    tokens_issued: int = 0
    token_paths: list[str] = field(default_factory=list)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    base_url: str = ""
    _tokens: set[str] = field(default_factory=set)
    _seen_ids: set[str] = field(default_factory=set)

    def service_account_json(self, token_uri: str | None = "/token") -> str:
        """The key file; `token_uri`: a path on the stand-in, or None to leave the field out."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key: dict[str, str] = {
            "type": "service_account",
            "client_email": self.client_email,
            "private_key": pem,
            "private_key_id": "k1",
        }
        if token_uri is not None:
            key["token_uri"] = f"{self.base_url}{token_uri}"
        return json.dumps(key)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/elsewhere/token", self._token, methods=["POST"]),
                Route("/v1/phones/{msisdn}/agentMessages", self._send, methods=["POST"]),
            ]
        )

    async def _token(self, request: Request) -> Response:
        self.token_paths.append(request.url.path)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        head, claims_b64, sig = str(form.get("assertion", "")).split(".")
        try:
            self.key.public_key().verify(
                _unb64(sig), f"{head}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return JSONResponse({"error": "invalid_grant"}, 400)
        claims = json.loads(_unb64(claims_b64))
        if claims["iss"] != self.client_email or claims["exp"] < time.time():
            return JSONResponse({"error": "invalid_grant"}, 400)
        token = uuid.uuid4().hex
        self._tokens.add(token)
        self.tokens_issued += 1
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def _send(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self._tokens:
            return JSONResponse({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, 401)
        msisdn = request.path_params["msisdn"]
        body = orjson.loads(await request.body())
        params = dict(request.query_params)
        self.received.append((msisdn, params, body))
        if self.behaviour.get(msisdn) == "no_rcs":
            return JSONResponse(
                {
                    "error": {
                        "code": 404,
                        "message": "Requested entity was not found.",
                        "status": "NOT_FOUND",
                    }
                },
                404,
            )
        if params["messageId"] in self._seen_ids:
            return JSONResponse({"error": {"code": 409, "status": "ALREADY_EXISTS"}}, 409)
        self._seen_ids.add(params["messageId"])
        return JSONResponse(
            {
                "name": f"phones/{msisdn}/agentMessages/{params['messageId']}",
                "sendTime": "2026-11-27T10:00:00.123456789Z",
                **body,
            }
        )

    def event(
        self, message_id: str, event_type: str, msisdn: str, token: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        data = orjson.dumps(
            {
                "agentId": "agent-1",
                "senderPhoneNumber": msisdn,
                "eventType": event_type,
                "eventId": f"ev-{message_id}-{event_type}",
                "messageId": message_id,
                "sendTime": "2026-11-27T10:00:01.5Z",
            }
        )
        body = orjson.dumps(
            {
                "message": {
                    "data": base64.b64encode(data).decode(),
                    "messageId": "pubsub-1",
                    "publishTime": "2026-11-27T10:00:01.6Z",
                },
                "subscription": "projects/rbm/subscriptions/agent-1",
            }
        )
        mac = hmac.new((token or self.client_token).encode(), data, hashlib.sha512).digest()
        return body, {
            "Content-Type": "application/json",
            "X-Goog-Signature": base64.b64encode(mac).decode(),
        }
