from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tidings.core.model import Limits
from tidings.core.render import render_text
from tidings.core.validation import validate_omnimessage

IMG = "https://cdn.example.com/a.png"
URL = "https://example.com"


@pytest.mark.parametrize(
    ("channel", "content", "expected"),
    [
        ("sms", {"text": "Hello 🎉"}, "Hello 🎉"),
        ("sms", {"text": "two\nlines", "autoconvert": "on"}, "two\nlines"),
        ("telegram", {"text": "Invoice", "document_url": f"{URL}/a.pdf"},
         f"Invoice\n[document] {URL}/a.pdf"),
        ("telegram", {"image_url": IMG}, f"[image] {IMG}"),
        ("telegram", {"audio_url": f"{URL}/a.mp3"}, f"[audio] {URL}/a.mp3"),
        ("viber", {"text": "hi"}, "hi"),
        ("viber", {"image_url": IMG}, f"[image] {IMG}"),
        ("viber", {"text": "Sale", "image_url": IMG, "button_text": "Shop", "button_url": URL},
         f"Sale\n[image] {IMG}\n[Shop] {URL}"),
        ("viber", {"video": {"url": f"{URL}/v.mp4", "thumbnail": IMG, "file_size": 9,
                             "duration": 30}, "text": "Watch", "button_text": "More"},
         f"Watch\n[video] {URL}/v.mp4 (30 s)\n[More]"),
        ("viber", {"template": {"id": "123", "lang": "en", "params": {"name": "Ann"}}},
         "[template 123 (en)] name=Ann"),
        ("viber", {"template": {"id": "7", "lang": "et", "params": {"a": "1", "b": "2"}}},
         "[template 7 (et)] a=1, b=2"),
        ("viber", {"template": {"id": "7", "lang": "et"}}, "[template 7 (et)]"),
        ("viber", {"text": "Pick", "carousel": {"items": [
            {"title": "Coffee", "image_url": IMG, "primary_button": {"label": "Buy", "action_url": URL},
             "secondary_button": {"label": "Info", "action_url": URL}},
            {"title": "Tea", "image_url": IMG, "primary_button": {"label": "Buy", "action_url": URL}},
        ]}}, f"Pick\n[card] Coffee ({IMG}) [Buy] [Info]\n[card] Tea ({IMG}) [Buy]"),
        ("whatsapp", {"text": {"body": "Hello *there*", "preview_url": True}}, "Hello *there*"),
        ("whatsapp", {"image": {"link": IMG, "caption": "Menu"}}, f"[image] Menu ({IMG})"),
        ("whatsapp", {"image": {"link": IMG}}, f"[image] {IMG}"),
        ("whatsapp", {"video": {"id": "123"}}, "[video] id 123"),
        ("whatsapp", {"document": {"id": "9", "file_name": "bill.pdf"}}, "[document] bill.pdf (id 9)"),
        ("whatsapp", {"audio": {"link": f"{URL}/a.ogg"}}, f"[audio] {URL}/a.ogg"),
        ("whatsapp", {"sticker": {"id": "5", "animated": True}}, "[sticker] id 5"),
        ("whatsapp", {"template": {"name": "hello_world", "language": {"code": "en_US"},
                                   "components": []}}, "[template hello_world (en_US)]"),
        ("rcs", {"text": "Hi"}, "Hi"),
        ("rcs", {"text": "Pick", "suggestions": [
            {"reply": {"text": "Reply", "postback_data": "r"}},
            {"action": {"text": "Open", "postback_data": "o",
                        "open_url_action": {"url": URL, "application": "BROWSER"}}},
        ]}, "Pick\n[Reply] [Open]"),
        ("rcs", {"content_info": {"file_url": f"{URL}/a.pdf", "force_refresh": False}},
         f"[file] {URL}/a.pdf"),
        ("rcs", {"rich_card": {"standalone_card": {
            "card_orientation": "VERTICAL", "thumbnail_image_alignment": "LEFT",
            "card_content": {"title": "Coffee", "description": "Fresh",
                             "media": {"height": "TALL",
                                       "content_info": {"file_url": IMG, "force_refresh": False}},
                             "suggestions": [{"reply": {"text": "Yes", "postback_data": "y"}}]}}},
          "suggestions": [{"reply": {"text": "No", "postback_data": "n"}}]},
         f"Coffee\nFresh\n[media] {IMG}\n[Yes]\n[No]"),
        ("rcs", {"rich_card": {"carousel_card": {"card_width": "SMALL", "card_contents": [
            {"title": "A"}, {"description": "B"}]}}},
         "[card 1/2]\nA\n[card 2/2]\nB"),
    ],
)  # fmt: skip
def test_render(channel: str, content: dict[str, Any], expected: str) -> None:
    assert render_text(channel, content) == expected


def test_whatsapp_template_lists_component_parameters() -> None:
    content = {
        "template": {
            "name": "order_ready",
            "language": {"code": "en"},
            "components": [
                {"type": "header", "parameters": [{"type": "image", "image": {"link": IMG}}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ann"},
                        {
                            "type": "currency",
                            "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": 1},
                        },
                        {"type": "date_time", "date_time": {"fallback_value": "May 1"}},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": 0,
                    "parameters": [{"type": "payload", "payload": "YES"}],
                },
                {"type": "footer"},
            ],
        }
    }
    assert render_text("whatsapp", content) == "\n".join(
        [
            "[template order_ready (en)]",
            f"header: [image] {IMG}",
            "body: Ann | $10 | May 1",
            "button 0 (quick_reply): YES",
        ]
    )


def test_unknown_channel_falls_back_to_json() -> None:
    assert render_text("fax", {"b": 1, "a": "é"}) == '{"a": "é", "b": 1}'


def test_renders_validated_content() -> None:
    request = validate_omnimessage(
        {
            "to": "+37251234567",
            "messages": [
                {"channel": "viber", "template": {"id": "123", "lang": "en", "params": {"n": "A"}}},
                {"channel": "sms", "text": "Fallback", "autoconvert": "true"},
            ],
        },
        now=datetime(2026, 1, 1, tzinfo=UTC),
        limits=Limits(),
    )
    rendered = [render_text(m.channel, m.content) for m in request.messages]
    assert rendered == ["[template 123 (en)] n=A", "Fallback"]
