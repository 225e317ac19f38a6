"""The keyword opt-out rules (core/opt_out.py): which inbound texts opt out or back in."""

from __future__ import annotations

import pytest

from tidings.core.opt_out import (
    DEFAULT_OPT_IN_REPLY,
    DEFAULT_OPT_OUT_REPLY,
    Keyword,
    OptOutRules,
    OptOutSettings,
    WordsInvalid,
    check_settings,
    classify,
    parse_words,
    reply_message,
)

DEFAULT = OptOutRules.of(OptOutSettings())


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop.",
        "  stop!!  ",
        "STOP?!",
        "stop\n",
        "\tQuit…",
        "UNSUBSCRIBE",
        "StopAll",
        "cancel",
        "End",
        "\uff33\uff34\uff2f\uff30",  # fullwidth STOP (NFKD)
        "Stóp",  # an accent
        "stop¡",
    ],
)
def test_opt_out_words(text: str) -> None:
    assert classify(text, DEFAULT) == Keyword.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "stop please",
        "please stop",
        "STOP ALL",
        "stopp",
        "!stop",  # punctuation is trimmed only at the end
        "",
        "   ",
        "...",
        "st op",
        "🛑",
        "halt",
        "stop 😊",
    ],
)
def test_not_keywords(text: str) -> None:
    assert classify(text, DEFAULT) is None


@pytest.mark.parametrize("text", ["START", "start.", " Start ", "stárt!"])
def test_opt_in(text: str) -> None:
    assert classify(text, DEFAULT) == Keyword.OPT_IN


def test_account_words_add_to_the_standard_ones() -> None:
    rules = OptOutRules.of(
        OptOutSettings(
            opt_out_words=parse_words("Arrêter, Lõpeta"),
            opt_in_words=parse_words("jätka"),
            opt_out_reply="Bye",
        )
    )
    assert classify("ARRETER!", rules) == Keyword.OPT_OUT
    assert classify("lopeta", rules) == Keyword.OPT_OUT
    assert classify("STOP", rules) == Keyword.OPT_OUT  # still
    assert classify("Jätka.", rules) == Keyword.OPT_IN
    assert classify("start", rules) == Keyword.OPT_IN
    assert (rules.opt_out_reply, rules.opt_in_reply) == ("Bye", DEFAULT_OPT_IN_REPLY)
    assert DEFAULT.opt_out_reply == DEFAULT_OPT_OUT_REPLY


def test_parse_words() -> None:
    assert parse_words("A, b ,Ä,a") == ("a", "b")  # normalised, duplicates dropped
    assert parse_words("") == ()
    assert parse_words("please stop") == ("please stop",)
    for bad in ("a,,b", "a, ,b", "!!!", "x" * 51, ",".join(f"w{i}" for i in range(51))):
        with pytest.raises(WordsInvalid):
            parse_words(bad)


def test_check_settings() -> None:
    check_settings(OptOutSettings(opt_out_words=("halt",), opt_in_reply="Welcome back"))
    with pytest.raises(WordsInvalid, match="both"):
        check_settings(OptOutSettings(opt_out_words=("start",)))
    with pytest.raises(WordsInvalid, match="empty"):
        check_settings(OptOutSettings(opt_out_reply="  "))
    with pytest.raises(WordsInvalid, match="more than"):
        check_settings(OptOutSettings(opt_in_reply="x" * 641))


def test_reply_message_per_channel() -> None:
    assert reply_message("sms", "Bye") == {"channel": "sms", "text": "Bye"}
    assert reply_message("whatsapp", "Bye") == {"channel": "whatsapp", "text": {"body": "Bye"}}
    assert reply_message("telegram", "Bye") == {"channel": "telegram", "text": "Bye"}
