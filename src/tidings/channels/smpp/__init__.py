"""SMPP 3.4 connector: one transceiver bind per configured SMSC account."""

from tidings.channels.smpp.connector import SmppConnector
from tidings.channels.smpp.settings import SmppSettings

__all__ = ["SmppConnector", "SmppSettings"]
