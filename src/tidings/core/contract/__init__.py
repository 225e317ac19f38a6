"""The wire contract, declared once: request and response models (pydantic v2).

Validation (`tidings.core.validation`), the Messente error items and the OpenAPI document
(`tidings.api.openapi`) all come from these declarations. What a JSON schema cannot say is
hand-written once each: E.164 (`core.phone`), the time rules (`core.timeparse`), the sender rule
(`core.validation_sender`), URLs (`problems.url_problem`) and the cross-field rules
(`rules`).
"""
