"""Is the peer of a bound link still answering? Judged from what was written and heard.

Pure bookkeeping on monotonic instants (no I/O), fed by the link's listener and asked by the
connector's watchdog and send gate:

- *dead*: a request (an enquire_link or a submit_sm) has waited `timeout_s` and nothing at all
  has been heard from the peer since it was written. Any PDU proves the peer alive (a response
  to anything, a deliver_sm, the peer's own enquire_link), so one lost submit_sm_resp on a link
  that goes on answering does not kill the link: that message alone stays unknown.
- *fresh*: heard from within `timeout_s`, and no enquire_link written since. Only a fresh link
  gets a submit_sm; for any other the connector probes first and the submit waits for the
  answer or for the verdict.
"""

from __future__ import annotations


class Liveness:
    def __init__(self, timeout_s: float, now: float) -> None:
        self.timeout_s = timeout_s
        self.last_heard = now  # the bind_resp
        self.proven = False  # heard from since the bind
        self.probing = False  # an enquire_link written since the last PDU heard
        self._silent_since: float | None = None  # the first request written since then

    def heard(self, now: float) -> None:
        self.last_heard = now
        self.proven = True
        self.probing = False
        self._silent_since = None

    def wrote(self, now: float, *, probe: bool) -> None:
        if self._silent_since is None:
            self._silent_since = now
        if probe:
            self.probing = True

    def dead_at(self) -> float | None:
        """When the link is to be given up if nothing is heard before; None: no request waits."""
        return None if self._silent_since is None else self._silent_since + self.timeout_s

    def dead(self, now: float) -> bool:
        at = self.dead_at()
        return at is not None and now >= at

    def fresh(self, now: float) -> bool:
        return not self.probing and now - self.last_heard < self.timeout_s
