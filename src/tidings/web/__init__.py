"""HTTP over one context: the Messente API (`web.api`) and the console (`web.console`) side
by side, composed by `web.app`; what both use (context, auth, limits, errors) lives here."""
