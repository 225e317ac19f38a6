"""Keyword opt-out rules: is an inbound text an opt-out (`STOP`), an opt-in (`START`), or neither?

Pure: no I/O. The engine (engine/opt_out.py) applies the answer to the account's blacklist and
sends the confirmation.

A text is a keyword when the *whole* message, after trimming white space at both ends and
punctuation at its end, is one of the words, compared case- and accent-insensitively
(`Stop.`, `stop!`, ` QUIT ` and `Stöp` count; `stop please` does not). The standard words
(`STOP`, `UNSUBSCRIBE`, `STOPALL`, `CANCEL`, `END`, `QUIT`; `START`) always apply; an account
adds its own (`tidings accounts set NAME --opt-out-words a,b --opt-in-words c`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "DEFAULT_OPT_IN_REPLY",
    "DEFAULT_OPT_IN_WORDS",
    "DEFAULT_OPT_OUT_REPLY",
    "DEFAULT_OPT_OUT_WORDS",
    "Keyword",
    "OptOutRules",
    "OptOutSettings",
    "WordsInvalid",
    "check_settings",
    "classify",
    "normalise",
    "parse_words",
    "reply_message",
]

DEFAULT_OPT_OUT_WORDS = ("STOP", "UNSUBSCRIBE", "STOPALL", "CANCEL", "END", "QUIT")
DEFAULT_OPT_IN_WORDS = ("START",)
DEFAULT_OPT_OUT_REPLY = (
    "You are unsubscribed and will receive no more messages from us. Reply START to subscribe "
    "again."
)
DEFAULT_OPT_IN_REPLY = "You are subscribed again. Reply STOP to unsubscribe."

MAX_WORDS = 50  # per account and kind
MAX_WORD_CHARS = 50
MAX_REPLY_CHARS = 640


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


class WordsInvalid(ValueError):
    """A list of keywords or a reply text that cannot be used (the message says why)."""


def _trailing_junk(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch).startswith("P")


def normalise(text: str) -> str:
    """The form keywords are compared in: white space trimmed at both ends, punctuation
    trimmed at the end, accents removed (NFKD, combining marks dropped), case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    end = len(plain)
    while end and _trailing_junk(plain[end - 1]):
        end -= 1
    return plain[:end].strip().casefold()


@dataclass(frozen=True, slots=True)
class OptOutSettings:
    """An account's own keywords (normalised, added to the standard ones) and confirmation texts
    (None: the defaults), as stored."""

    opt_out_words: tuple[str, ...] = ()
    opt_in_words: tuple[str, ...] = ()
    opt_out_reply: str | None = None
    opt_in_reply: str | None = None


@dataclass(frozen=True, slots=True)
class OptOutRules:
    """The words in effect for one account and what to answer."""

    opt_out_words: frozenset[str]
    opt_in_words: frozenset[str]
    opt_out_reply: str
    opt_in_reply: str

    @classmethod
    def of(cls, settings: OptOutSettings) -> OptOutRules:
        return cls(
            frozenset(map(normalise, (*DEFAULT_OPT_OUT_WORDS, *settings.opt_out_words))),
            frozenset(map(normalise, (*DEFAULT_OPT_IN_WORDS, *settings.opt_in_words))),
            settings.opt_out_reply or DEFAULT_OPT_OUT_REPLY,
            settings.opt_in_reply or DEFAULT_OPT_IN_REPLY,
        )


def classify(text: str, rules: OptOutRules) -> Keyword | None:
    """Whether `text` is an opt-out, an opt-in, or neither (None)."""
    word = normalise(text)
    if not word:
        return None
    if word in rules.opt_out_words:
        return Keyword.OPT_OUT
    if word in rules.opt_in_words:
        return Keyword.OPT_IN
    return None


def parse_words(raw: str, *, option: str = "words") -> tuple[str, ...]:
    """A comma-separated list of keywords as stored: each normalised, duplicates dropped, in
    the given order. An empty string is no words. Raises WordsInvalid."""
    words: list[str] = []
    for part in raw.split(","):
        if not part.strip():
            if raw.strip():
                raise WordsInvalid(f"{option}: an empty word between commas")
            continue
        word = normalise(part)
        if not word:
            raise WordsInvalid(f"{option}: {part.strip()!r} has no letters or digits")
        if len(word) > MAX_WORD_CHARS:
            raise WordsInvalid(f"{option}: a word has more than {MAX_WORD_CHARS} characters")
        if any(ch in "\r\n\t" for ch in word):
            raise WordsInvalid(f"{option}: a word may not contain line breaks or tabs")
        if word not in words:
            words.append(word)
    if len(words) > MAX_WORDS:
        raise WordsInvalid(f"{option}: at most {MAX_WORDS} words")
    return tuple(words)


def check_settings(settings: OptOutSettings) -> None:
    """Raises WordsInvalid when the settings contradict themselves or a reply is unusable."""
    rules = OptOutRules.of(settings)
    if both := sorted(rules.opt_out_words & rules.opt_in_words):
        raise WordsInvalid(f"a word cannot both opt out and opt in: {', '.join(both)}")
    for name, reply in (
        ("opt-out reply", settings.opt_out_reply),
        ("opt-in reply", settings.opt_in_reply),
    ):
        if reply is not None and not reply.strip():
            raise WordsInvalid(f"the {name} is empty")
        if reply is not None and len(reply) > MAX_REPLY_CHARS:
            raise WordsInvalid(f"the {name} has more than {MAX_REPLY_CHARS} characters")


def reply_message(channel: str, text: str) -> dict[str, Any]:
    """The channel object (Omnimessage `messages` item) carrying `text` on `channel`."""
    if channel == "whatsapp":
        return {"channel": channel, "text": {"body": text}}
    return {"channel": channel, "text": text}
