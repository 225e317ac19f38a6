"""Plain-text rendering of validated channel content, for the sandbox inbox and logs in debug mode.

One line per element; media, buttons and templates are shown as bracketed tags, e.g.
``[image] Our menu (https://x/menu.png)``, ``[template order_ready (en)]``, ``[Yes] [No]``.
The input is the `content` of a validated ChannelRequest; missing keys are simply skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["render_text"]

Content = Mapping[str, Any]


def render_text(channel: str, content: Content) -> str:
    """A readable multi-line rendering of one channel message's content."""
    renderer = _RENDERERS.get(channel)
    if renderer is None:
        return json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)
    return "\n".join(line for line in renderer(content) if line)


def _media(kind: str, media: Content) -> str:
    """``[kind] caption (link)``; the id stands in for the link, the file name for the caption."""
    where = media.get("link") or (f"id {media['id']}" if media.get("id") else "")
    label = media.get("caption") or media.get("file_name") or media.get("filename")
    if label and where:
        return f"[{kind}] {label} ({where})"
    return f"[{kind}] {label or where}".rstrip()


def _chips(labels: list[str]) -> str:
    return " ".join(f"[{label}]" for label in labels)


# -- per channel ---------------------------------------------------------------------------------


def _sms(content: Content) -> Iterator[str]:
    yield content.get("text", "")


def _telegram(content: Content) -> Iterator[str]:
    yield content.get("text", "")
    for kind in ("image", "document", "audio"):
        if content.get(f"{kind}_url"):
            yield f"[{kind}] {content[f'{kind}_url']}"


def _viber(content: Content) -> Iterator[str]:
    yield content.get("text", "")
    if content.get("image_url"):
        yield f"[image] {content['image_url']}"
    video = content.get("video")
    if video:
        duration = f" ({video['duration']} s)" if video.get("duration") else ""
        yield f"[video] {video.get('url', '')}{duration}"
    if content.get("button_text"):
        yield f"[{content['button_text']}] {content.get('button_url', '')}".rstrip()
    template = content.get("template")
    if template:
        params = ", ".join(f"{k}={v}" for k, v in (template.get("params") or {}).items())
        yield f"[template {template.get('id', '')} ({template.get('lang', '')})] {params}".rstrip()
    carousel = content.get("carousel")
    if carousel:
        for item in carousel.get("items", []):
            buttons = [
                item[key]["label"]
                for key in ("primary_button", "secondary_button")
                if item.get(key) and item[key].get("label")
            ]
            line = f"[card] {item.get('title', '')} ({item.get('image_url', '')})"
            yield f"{line} {_chips(buttons)}".rstrip()


def _whatsapp(content: Content) -> Iterator[str]:
    text = content.get("text")
    if text:
        yield text.get("body", "")
    template = content.get("template")
    if template:
        yield from _whatsapp_template(template)
    for kind in ("image", "video", "audio", "document", "sticker"):
        if content.get(kind):
            yield _media(kind, content[kind])


def _whatsapp_template(template: Content) -> Iterator[str]:
    code = (template.get("language") or {}).get("code", "")
    yield f"[template {template.get('name', '')} ({code})]"
    for component in template.get("components") or []:
        values = [_parameter(p) for p in component.get("parameters") or []]
        if not values:
            continue
        label = component.get("type", "")
        if component.get("index") is not None:
            label += f" {component['index']}"
        if component.get("sub_type"):
            label += f" ({component['sub_type']})"
        yield f"{label}: {' | '.join(values)}"


def _parameter(parameter: Content) -> str:
    kind = parameter.get("type", "")
    value = parameter.get(kind)
    if isinstance(value, Mapping):
        if "fallback_value" in value:
            return str(value["fallback_value"])
        return _media(kind, value)
    return "" if value is None else str(value)


def _rcs(content: Content) -> Iterator[str]:
    yield content.get("text", "")
    rich_card = content.get("rich_card") or {}
    if rich_card.get("standalone_card"):
        yield from _rcs_card(rich_card["standalone_card"].get("card_content") or {})
    if rich_card.get("carousel_card"):
        cards = rich_card["carousel_card"].get("card_contents") or []
        for number, card in enumerate(cards, start=1):
            yield f"[card {number}/{len(cards)}]"
            yield from _rcs_card(card)
    if content.get("content_info"):
        yield f"[file] {content['content_info'].get('file_url', '')}"
    yield _rcs_chips(content.get("suggestions") or [])


def _rcs_card(card: Content) -> Iterator[str]:
    yield card.get("title", "")
    yield card.get("description", "")
    media = card.get("media") or {}
    if media.get("content_info"):
        yield f"[media] {media['content_info'].get('file_url', '')}"
    yield _rcs_chips(card.get("suggestions") or [])


def _rcs_chips(suggestions: list[Content]) -> str:
    labels = [
        (suggestion.get("reply") or suggestion.get("action") or {}).get("text", "")
        for suggestion in suggestions
    ]
    return _chips([label for label in labels if label])


_RENDERERS: dict[str, Callable[[Content], Iterator[str]]] = {
    "sms": _sms,
    "telegram": _telegram,
    "viber": _viber,
    "whatsapp": _whatsapp,
    "rcs": _rcs,
}
