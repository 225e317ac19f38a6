"""Local stand-ins of messaging providers: small Starlette apps speaking each provider's documented
request and response shapes, and signing callbacks exactly as the provider does."""
