"""Signed delivery of delivery-report and inbound webhooks, with retries and an SSRF guard.

Modules: ``signing`` (X-Messente-Signature and Standard Webhooks headers), ``guard`` (target
policy, resolution and address checks), ``transport`` (httpx transport pinned to vetted
addresses), ``delivery`` (one attempt: ``WebhookClient.post`` -> ``AttemptResult``), ``backoff``
(retry schedule), ``payload`` (JSON bodies). Self-contained: depends only on ``tidings.core``.
"""

from tidings.webhooks.backoff import MAX_ATTEMPTS, RETRY_SCHEDULE_S, next_delay_s
from tidings.webhooks.delivery import AttemptResult, WebhookClient, post_webhook
from tidings.webhooks.guard import (
    LOOPBACK,
    ResolutionError,
    ResolvedTarget,
    TargetBlocked,
    TargetError,
    TargetPolicy,
    blocked_reason,
    resolve_target,
)
from tidings.webhooks.payload import delivery_report_body, inbound_message_body
from tidings.webhooks.signing import (
    messente_signature,
    sign_headers,
    standard_headers,
    standard_webhooks_secret,
)
from tidings.webhooks.transport import PinnedTransport

__all__ = [
    "LOOPBACK",
    "MAX_ATTEMPTS",
    "RETRY_SCHEDULE_S",
    "AttemptResult",
    "PinnedTransport",
    "ResolutionError",
    "ResolvedTarget",
    "TargetBlocked",
    "TargetError",
    "TargetPolicy",
    "WebhookClient",
    "blocked_reason",
    "delivery_report_body",
    "inbound_message_body",
    "messente_signature",
    "next_delay_s",
    "post_webhook",
    "resolve_target",
    "sign_headers",
    "standard_headers",
    "standard_webhooks_secret",
]
