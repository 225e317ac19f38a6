"""The sender rules (DESIGN.md section 2), shared by request validation and the CLI.

Each rule is a set of forms (regexes matched whole); the request models publish the same forms
as a JSON-schema pattern, so the document and the check cannot differ.
"""

from __future__ import annotations

import re

SENDER_ALNUM_MAX = 11
SENDER_DIGITS_MAX = 15

SENDER_ALNUM = re.compile(rf"(?=.*[A-Za-z])[A-Za-z0-9 ]{{1,{SENDER_ALNUM_MAX}}}", re.ASCII)
SENDER_DIGITS = re.compile(rf"\+?[0-9]{{1,{SENDER_DIGITS_MAX}}}", re.ASCII)

SENDER_FORMS = (SENDER_ALNUM, SENDER_DIGITS)
SENDER_RULE = (
    f"sender must be a name of 1-{SENDER_ALNUM_MAX} letters, digits and spaces with at "
    f"least one letter, or a number of up to {SENDER_DIGITS_MAX} digits with an optional '+'"
)

# An RCS sender is the RBM agent that sends (`agentId`), not an SMS sender ID: RBM documents it
# only as "the agent's unique identifier" (ids like `my-agent` or `acme_x1_agent`), so ours is:
# 1-100 ASCII letters, digits, '_', '-', '.', '@', beginning with a letter or a digit.
RCS_AGENT_ID_MAX = 100
RCS_AGENT_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.@-]{{0,{RCS_AGENT_ID_MAX - 1}}}", re.ASCII)
RCS_SENDER_FORMS = (RCS_AGENT_ID,)
RCS_SENDER_RULE = (
    f"the rcs sender is the RBM agent id: 1-{RCS_AGENT_ID_MAX} letters, digits, '_', '-', '.'"
    " or '@', beginning with a letter or a digit"
)


def _any_of(forms: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{form.pattern})" for form in forms), re.ASCII)


_SENDER = _any_of(SENDER_FORMS)
_RCS_SENDER = _any_of(RCS_SENDER_FORMS)


def sender_problem(sender: str) -> str | None:
    """None when `sender` is a valid sender ID, else what is wrong with it."""
    return None if _SENDER.fullmatch(sender) else SENDER_RULE


def rcs_sender_problem(sender: str) -> str | None:
    """None when `sender` is a valid RCS sender (RBM agent), else what is wrong with it."""
    return None if _RCS_SENDER.fullmatch(sender) else RCS_SENDER_RULE
