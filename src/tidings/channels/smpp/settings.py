"""Configuration of one SMPP 3.4 bind (one SMSC account)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    window: int = 10
    tps: float = 50.0
    enquire_link_s: float = 30.0
    response_timeout_s: float = 30.0
    reconnect_max_s: float = 60.0
    name: str = "smpp"

    def __post_init__(self) -> None:
        # The watchdog schedules by these: zero or less would make it spin.
        if self.enquire_link_s <= 0 or self.response_timeout_s <= 0:
            raise ValueError("enquire_link_s and response_timeout_s must be positive")
