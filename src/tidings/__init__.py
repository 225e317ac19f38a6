"""Tidings: a self-hosted omnichannel messaging gateway."""

__version__ = "0.1.0"
