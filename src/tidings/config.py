"""The TOML configuration file: connector instances and routing.

```toml
[connectors.wa]
type = "whatsapp"
phone_number_id = "1234567890"
access_token_env = "WA_TOKEN"      # any secret: `KEY = "..."` or `KEY_env = "ENV_VAR_NAME"`
app_secret_env = "WA_APP_SECRET"
verify_token = "choose-one"
inbound_account = "alice"          # any connector: owns inbound messages no send explains

[routes]                           # channel -> connector; unrouted channels go to the sandbox
whatsapp = "wa"

[accounts.alice]                   # per account (by username)
rate_per_second = 50               # its request rate limit (default: TIDINGS_RATE_PER_SECOND)
rate_burst = 100                   # (default: twice the rate)

[accounts.alice.routes]            # per account, over [routes]
sms = "sandbox"
```

Every problem is a `ConfigError` naming the key, e.g.
`connectors.wa.access_token_env: environment variable WA_TOKEN is not set`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tidings.channels.http_base import HttpSettings
from tidings.channels.messente_relay import MESSENTE_URL, MessenteSettings
from tidings.channels.port import Connector
from tidings.channels.rcs import RBM_URL, TOKEN_URI, RcsSettings, load_service_account
from tidings.channels.router import Router
from tidings.channels.sandbox import SandboxConnector, SandboxTiming
from tidings.channels.telegram import TELEGRAM_URL, TelegramSettings
from tidings.channels.viber import INFOBIP_URL, ViberSettings
from tidings.channels.whatsapp import GRAPH_URL, WhatsAppSettings
from tidings.core.model import CHANNELS
from tidings.store.base import Store
from tidings.web.ratelimit import Rate

__all__ = [
    "CONNECTOR_TYPES",
    "ConfigError",
    "ConnectorSpec",
    "GatewayConfig",
    "build_router",
    "load_config",
    "parse_config",
]

SANDBOX = "sandbox"
CONNECTOR_TYPES = ("whatsapp", "rcs", "telegram", "viber", "messente", "smpp", "sandbox")
TEXT_STORES = ("plaintext", "sha256", "nostore")


class ConfigError(ValueError):
    """A bad configuration file; the message names the offending key."""


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    name: str
    type: str
    settings: Any  # the type's settings dataclass (None for the sandbox)
    inbound_account: str | None = None  # owns inbound messages no account's send explains


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    connectors: dict[str, ConnectorSpec] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)  # channel -> connector name
    account_routes: dict[str, dict[str, str]] = field(default_factory=dict)  # username -> routes
    source: str = "<config>"
    account_rates: dict[str, Rate] = field(default_factory=dict)  # username -> request rate

    @property
    def inbound_accounts(self) -> dict[str, str]:
        """Connector name -> the username its `inbound_account` names."""
        return {n: c.inbound_account for n, c in self.connectors.items() if c.inbound_account}

    def route_for(self, channel: str, username: str | None = None) -> str:
        if username is not None and channel in self.account_routes.get(username, {}):
            return self.account_routes[username][channel]
        return self.routes.get(channel, SANDBOX)


_MISSING: Any = object()


class _Section:
    """Typed reads from one TOML table; remembers which keys were used to flag unknown ones."""

    def __init__(self, path: str, data: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.path, self.data, self.env = path, data, env
        self.used: set[str] = {"type"}

    def key(self, k: str) -> str:
        return f"{self.path}.{k}"

    def _get(self, k: str, default: Any) -> Any:
        self.used.add(k)
        if k in self.data:
            return self.data[k]
        if default is _MISSING:
            raise ConfigError(f"{self.key(k)}: required")
        return default

    def string(self, k: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()) -> Any:
        v = self._get(k, default)
        if isinstance(v, int) and not isinstance(v, bool):
            v = str(v)  # e.g. phone_number_id = 1234567890
        if v is not default and not isinstance(v, str):
            raise ConfigError(f"{self.key(k)}: must be a string")
        if isinstance(v, str) and choices and v not in choices:
            raise ConfigError(f"{self.key(k)}: must be one of {', '.join(choices)}, not {v!r}")
        return v

    def number(self, k: str, default: float, *, minimum: float = 0.0) -> float:
        v = self._get(k, default)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"{self.key(k)}: must be a number")
        if v < minimum:
            raise ConfigError(f"{self.key(k)}: must be at least {minimum}")
        return float(v)

    def integer(self, k: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
        v = self._get(k, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{self.key(k)}: must be an integer")
        if not minimum <= v <= maximum:
            raise ConfigError(f"{self.key(k)}: must be between {minimum} and {maximum}")
        return v

    def secret(self, k: str, *, required: bool = True) -> str | None:
        """`k = "value"` in the file, or `k_env = "NAME"` to read it from the environment."""
        ek = f"{k}_env"
        self.used.update((k, ek))
        if k in self.data and ek in self.data:
            raise ConfigError(f"{self.key(k)}: give either {k} or {ek}, not both")
        if ek in self.data:
            name = self.data[ek]
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{self.key(ek)}: must name an environment variable")
            value = self.env.get(name)
            if value is None or value == "":
                raise ConfigError(f"{self.key(ek)}: environment variable {name} is not set")
            return value
        if k in self.data:
            v = self.data[k]
            if not isinstance(v, str) or not v:
                raise ConfigError(f"{self.key(k)}: must be a non-empty string")
            return v
        if required:
            raise ConfigError(f"{self.key(k)}: required (or {ek} naming an environment variable)")
        return None

    def http(self, default_url: str) -> HttpSettings:
        url = self.string("base_url", default_url)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{self.key('base_url')}: must be an http:// or https:// URL")
        return HttpSettings(
            base_url=url,
            timeout_s=self.number("timeout_s", 15.0, minimum=0.01),
            connect_timeout_s=self.number("connect_timeout_s", 5.0, minimum=0.01),
            concurrency=self.integer("concurrency", 16, minimum=1, maximum=1000),
            backoff_base_s=self.number("backoff_base_s", 1.0, minimum=0.0),
            backoff_max_s=self.number("backoff_max_s", 300.0, minimum=0.0),
        )

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown setting")


def _whatsapp(s: _Section) -> WhatsAppSettings:
    return WhatsAppSettings(
        phone_number_id=s.string("phone_number_id"),
        access_token=s.secret("access_token") or "",
        app_secret=s.secret("app_secret") or "",
        verify_token=s.secret("verify_token") or "",
        api_version=s.string("api_version", "v21.0"),
        http=s.http(GRAPH_URL),
    )


def _telegram(s: _Section) -> TelegramSettings:
    return TelegramSettings(
        bot_token=s.secret("bot_token") or "",
        webhook_secret=s.secret("webhook_secret") or "",
        bot_username=s.string("bot_username", ""),
        accepted_status=s.string("accepted_status", "DELIVRD", choices=("DELIVRD", "ACK")),
        link_ttl_s=s.integer("link_ttl_s", 7 * 86400, minimum=60),
        http=s.http(TELEGRAM_URL),
    )


def _viber(s: _Section) -> ViberSettings:
    webhook_url = s.string("webhook_url", None)
    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise ConfigError(f"{s.key('webhook_url')}: must be an http:// or https:// URL")
    seen = s._get("seen_reports", True)
    if not isinstance(seen, bool):
        raise ConfigError(f"{s.key('seen_reports')}: must be true or false")
    return ViberSettings(
        api_key=s.secret("api_key") or "",
        webhook_secret=s.secret("webhook_secret") or "",
        sender=s.string("sender", None),
        webhook_url=webhook_url,
        seen_reports=seen,
        http=s.http(INFOBIP_URL),
    )


def _messente(s: _Section) -> MessenteSettings:
    return MessenteSettings(
        username=s.string("username"),
        password=s.secret("password") or "",
        dlr_url=s.string("dlr_url", None),
        signing_secret=s.secret("signing_secret", required=False),
        text_store=s.string("text_store", "plaintext", choices=TEXT_STORES),
        http=s.http(MESSENTE_URL),
    )


def _rcs(s: _Section) -> RcsSettings:
    file_key = s.key("service_account_file")
    path = s.string("service_account_file", None)
    inline = s.secret("service_account_json", required=False)
    if (path is None) == (inline is None):
        raise ConfigError(f"{file_key}: give service_account_file or service_account_json(_env)")
    try:
        account = load_service_account(Path(path).read_text() if path else str(inline))
    except OSError as exc:
        raise ConfigError(f"{file_key}: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{file_key}: {exc}") from None
    return RcsSettings(
        agent_id=s.string("agent_id"),
        service_account=account,
        client_token=s.secret("client_token") or "",
        token_uri=s.string("token_uri", account.token_uri or TOKEN_URI),
        http=s.http(RBM_URL),
    )


def _smpp(s: _Section, name: str) -> Any:
    from tidings.channels.smpp import SmppSettings  # lazily: the SMPP stack is optional

    return SmppSettings(
        host=s.string("host"),
        port=s.integer("port", 2775, minimum=1, maximum=65535),
        system_id=s.string("system_id"),
        password=s.secret("password") or "",
        system_type=s.string("system_type", ""),
        window=s.integer("window", 10, minimum=1, maximum=10_000),
        tps=s.number("tps", 50.0, minimum=0.001),
        enquire_link_s=s.number("enquire_link_s", 30.0, minimum=1.0),
        response_timeout_s=s.number("response_timeout_s", 30.0, minimum=0.1),
        reconnect_max_s=s.number("reconnect_max_s", 60.0, minimum=0.1),
        name=name,
    )


def _connector(name: str, data: Any, env: Mapping[str, str]) -> ConnectorSpec:
    path = f"connectors.{name}"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a table")
    kind = data.get("type")
    if kind not in CONNECTOR_TYPES:
        raise ConfigError(f"{path}.type: must be one of {', '.join(CONNECTOR_TYPES)}, not {kind!r}")
    if name == SANDBOX and kind != SANDBOX:
        raise ConfigError(f"{path}: the name 'sandbox' is reserved for the built-in sandbox")
    s = _Section(path, data, env)
    settings: Any = None
    if kind == "whatsapp":
        settings = _whatsapp(s)
    elif kind == "telegram":
        settings = _telegram(s)
    elif kind == "viber":
        settings = _viber(s)
    elif kind == "messente":
        settings = _messente(s)
    elif kind == "rcs":
        settings = _rcs(s)
    elif kind == "smpp":
        settings = _smpp(s, name)
    inbound_account = s.string("inbound_account", None)
    s.finish()
    return ConnectorSpec(name, str(kind), settings, inbound_account or None)


def _routes(path: str, data: Any, known: Mapping[str, ConnectorSpec]) -> dict[str, str]:
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: must be a table of channel = "connector"')
    out: dict[str, str] = {}
    for channel, target in data.items():
        key = f"{path}.{channel}"
        if channel not in CHANNELS:
            raise ConfigError(f"{key}: unknown channel (one of {', '.join(CHANNELS)})")
        if not isinstance(target, str):
            raise ConfigError(f"{key}: must name a connector")
        if target != SANDBOX and target not in known:
            raise ConfigError(f"{key}: no connector named {target!r} in [connectors]")
        out[channel] = target
    return out


def parse_config(
    data: Mapping[str, Any], env: Mapping[str, str] | None = None, source: str = "<config>"
) -> GatewayConfig:
    env = os.environ if env is None else env
    for top in data:
        if top not in ("connectors", "routes", "accounts"):
            raise ConfigError(f"{top}: unknown section (connectors, routes, accounts)")
    raw = data.get("connectors", {})
    if not isinstance(raw, dict):
        raise ConfigError("connectors: must be a table")
    connectors = {name: _connector(name, body, env) for name, body in raw.items()}
    routes = _routes("routes", data.get("routes", {}), connectors)
    accounts_raw = data.get("accounts", {})
    if not isinstance(accounts_raw, dict):
        raise ConfigError("accounts: must be a table")
    account_routes: dict[str, dict[str, str]] = {}
    account_rates: dict[str, Rate] = {}
    for username, body in accounts_raw.items():
        path = f"accounts.{username}"
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: must be a table")
        s = _Section(path, body, env)
        s.used.discard("type")
        s.used.add("routes")
        if "rate_burst" in body and "rate_per_second" not in body:
            raise ConfigError(f"{s.key('rate_burst')}: give rate_per_second too")
        if "rate_per_second" in body:
            per_s = s.number("rate_per_second", 0.0)  # 0: no limit
            burst = s.number("rate_burst", 2 * per_s, minimum=1.0 if per_s else 0.0)
            account_rates[username] = Rate(per_s, burst)
        s.finish()
        account_routes[username] = _routes(f"{path}.routes", body.get("routes", {}), connectors)
    return GatewayConfig(connectors, routes, account_routes, source, account_rates)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> GatewayConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the configuration file: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    try:
        return parse_config(data, env, str(p))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def _build(
    spec: ConnectorSpec, store: Store, now_us: Callable[[], int], timing: SandboxTiming
) -> Connector:
    if spec.type == "whatsapp":
        from tidings.channels.whatsapp import WhatsAppConnector

        return WhatsAppConnector(spec.name, spec.settings, now_us)
    if spec.type == "telegram":
        from tidings.channels.telegram import TelegramConnector

        return TelegramConnector(spec.name, spec.settings, store, now_us)
    if spec.type == "viber":
        from tidings.channels.viber import ViberConnector

        return ViberConnector(spec.name, spec.settings, now_us)
    if spec.type == "messente":
        from tidings.channels.messente_relay import MessenteRelayConnector

        return MessenteRelayConnector(spec.name, spec.settings, now_us)
    if spec.type == "rcs":
        from tidings.channels.rcs import RcsConnector

        return RcsConnector(spec.name, spec.settings, now_us)
    if spec.type == "smpp":
        from tidings.channels.smpp import SmppConnector

        conn: Connector = SmppConnector(spec.settings, now_us)
        return conn
    sandbox = SandboxConnector(store, now_us, timing)
    sandbox.name = spec.name
    return sandbox


def build_router(
    config: GatewayConfig | None,
    store: Store,
    now_us: Callable[[], int],
    timing: SandboxTiming,
    account_ids: Mapping[str, int] | None = None,
) -> Router:
    """Connectors from the configuration, and the router over them (the sandbox by default)."""
    config = config or GatewayConfig()
    built: dict[str, Connector] = {}

    def get(name: str) -> Connector:
        if name not in built:
            if name == SANDBOX and name not in config.connectors:
                built[name] = SandboxConnector(store, now_us, timing)
            else:
                built[name] = _build(config.connectors[name], store, now_us, timing)
        return built[name]

    routes = {c: get(config.route_for(c)) for c in CHANNELS}
    per_account: dict[int, dict[str, Connector]] = {}
    for username, r in config.account_routes.items():
        ids = account_ids or {}
        if username not in ids:
            raise ConfigError(f"{config.source}: accounts.{username}: no such account")
        per_account[ids[username]] = {c: get(n) for c, n in r.items()}
    others = [get(n) for n in config.connectors if n not in built]
    return Router(routes, per_account, others)
