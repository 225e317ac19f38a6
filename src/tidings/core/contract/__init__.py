"""The wire contract, declared once: request and response models (pydantic v2).

`omnimessage` (the request bodies) is built from `channels` (the envelope, SMS, Telegram),
`viber`, `whatsapp` and `rcs`; `responses` holds the response bodies. Validation
(`tidings.core.validation`), the Messente error items and the OpenAPI document
(`tidings.web.api.openapi`) all come from these declarations. What a JSON schema cannot say is
hand-written once each and named in the document (`x-server-check`): E.164 (`core.phone`), the
time rules (`core.timeparse`), URLs (`problems.url_problem`) and the cross-field rules (`rules`);
the sender rules (`core.validation_sender`) are regexes the document publishes as patterns.
"""
