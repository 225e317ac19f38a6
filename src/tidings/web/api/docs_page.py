"""The OpenAPI document as one self-contained HTML page (inline CSS, no scripts), for ``/docs``."""

from __future__ import annotations

import html
import json
import re
from typing import Any

__all__ = ["docs_html"]

_METHODS = ("get", "post", "put", "patch", "delete")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")

_CSS = """
:root { --fg:#1d2430; --muted:#5b6676; --line:#dde3ea; --bg:#fff; --soft:#f5f7fa;
  --accent:#2457c5; --get:#1f7a4d; --post:#2457c5; --delete:#b3261e; --put:#8a5a00; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.9rem; margin: 0 0 .25rem; }
h2 { font-size: 1.4rem; margin: 2.5rem 0 1rem; padding-bottom: .3rem;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 1.1rem; margin: 0; }
p { margin: .5rem 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size: .88em; }
code { background: var(--soft); border: 1px solid var(--line); border-radius: 4px;
  padding: 0 .3em; }
pre { background: #0f1720; color: #e6edf3; padding: .9rem 1rem; border-radius: 6px;
  overflow-x: auto; }
pre code { background: none; border: 0; padding: 0; color: inherit; }
.muted { color: var(--muted); }
.note { background: var(--soft); border-left: 4px solid var(--accent); padding: .6rem 1rem;
  border-radius: 0 6px 6px 0; }
.op { border: 1px solid var(--line); border-radius: 8px; margin: 1rem 0; padding: 1rem 1.2rem; }
.op header { display: flex; gap: .75rem; align-items: baseline; flex-wrap: wrap; }
.method { font: 700 .8rem/1 ui-monospace,Menlo,Consolas,monospace; color: #fff;
  padding: .35rem .55rem; border-radius: 4px; text-transform: uppercase; }
.m-get { background: var(--get); } .m-post { background: var(--post); }
.m-delete { background: var(--delete); } .m-put, .m-patch { background: var(--put); }
.path { font: 600 1rem ui-monospace,Menlo,Consolas,monospace; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .45rem .6rem;
  border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; }
td.name { white-space: nowrap; font-family: ui-monospace,Menlo,Consolas,monospace; }
.req { color: var(--delete); font-size: .8rem; font-weight: 600; }
.schema { margin: 1.5rem 0 2rem; }
nav ul { columns: 2; padding-left: 1.2rem; }
"""


def _inline(text: str) -> str:
    """Escape `text`, then render `code` spans and **bold** (markers survive escaping)."""
    out = html.escape(text)
    out = _CODE_SPAN.sub(r"<code>\1</code>", out)
    return _BOLD.sub(r"<strong>\1</strong>", out)


def _paragraphs(text: str | None) -> str:
    if not text:
        return ""
    return "".join(f"<p>{_inline(p)}</p>" for p in text.split("\n\n") if p.strip())


def _schema_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _schema_link(name: str) -> str:
    esc = html.escape(name)
    return f'<a href="#schema-{esc}"><code>{esc}</code></a>'


def _type_html(schema: dict[str, Any]) -> str:
    """A short type description: a link for a $ref, `array of X`, `A | B`, `string | null`."""
    if "$ref" in schema:
        return _schema_link(_schema_name(str(schema["$ref"])))
    for key in ("oneOf", "anyOf"):
        if key in schema and "type" not in schema:
            return " | ".join(_type_html(s) for s in schema[key])
    if "allOf" in schema and "type" not in schema:
        return " + ".join(_type_html(s) for s in schema["allOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_html(schema.get('items', {}))}"
    kinds = kind if isinstance(kind, list) else [kind]
    text = " | ".join(html.escape(str(k)) for k in kinds)
    if "format" in schema:
        text += f" <span class='muted'>({html.escape(str(schema['format']))})</span>"
    return text


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _constraints(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:  # an optional field: the constraints of its non-null values
        values = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return "<br>".join(filter(None, (_constraints(s) for s in values)))
    parts: list[str] = []
    if "const" in schema:
        parts.append(f"always {_json_value(schema['const'])}")
    if "enum" in schema:
        parts.append("one of " + ", ".join(_json_value(v) for v in schema["enum"]))
    labels = (
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("maxProperties", "max properties"),
        ("pattern", "pattern"),
        ("default", "default"),
        ("x-server-check", "checked:"),
    )
    for key, label in labels:
        if key in schema:
            value = schema[key]
            shown = _json_value(value) if key == "default" else str(value)
            parts.append(f"{label} {shown}")
    return "<br>".join(f"<code>{html.escape(p)}</code>" for p in parts)


def _properties_table(schema: dict[str, Any]) -> str:
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return ""
    required = set(schema.get("required", []))
    rows = []
    for name, prop in props.items():
        req = "<span class='req'>required</span>" if name in required else ""
        rows.append(
            f"<tr><td class='name'>{html.escape(name)}</td><td>{_type_html(prop)}</td>"
            f"<td>{req}</td><td>{_constraints(prop)}</td>"
            f"<td>{_inline(str(prop.get('description', '')))}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Property</th><th>Type</th><th>Required</th>"
        "<th>Constraints</th><th>Description</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _body_schema(content: dict[str, Any] | None) -> str:
    if not content:
        return ""
    parts = []
    for media_type, media in content.items():
        schema = media.get("schema", {})
        parts.append(f"{_type_html(schema)} <span class='muted'>({html.escape(media_type)})</span>")
    return "; ".join(parts)


def _anchor(method: str, path: str) -> str:
    return "op-" + re.sub(r"[^A-Za-z0-9]+", "-", f"{method} {path}").strip("-")


def _resolve_response(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        resolved: dict[str, Any] = doc["components"]["responses"][_schema_name(response["$ref"])]
        return resolved
    return response


def _operation_html(
    doc: dict[str, Any],
    path: str,
    method: str,
    op: dict[str, Any],
    shared_params: list[dict[str, Any]],
) -> str:
    anchor = html.escape(_anchor(method, path))
    out = [
        f"<section class='op' id='{anchor}'><header>"
        f"<span class='method m-{html.escape(method)}'>{html.escape(method)}</span>"
        f"<span class='path'>{html.escape(path)}</span>"
        f"<h3>{_inline(str(op.get('summary', '')))}</h3></header>",
        _paragraphs(op.get("description")),
    ]
    if op.get("security") == []:
        out.append("<p class='muted'>No authentication.</p>")
    params = [
        doc["components"]["parameters"][_schema_name(p["$ref"])] if "$ref" in p else p
        for p in [*shared_params, *op.get("parameters", [])]
    ]
    if params:
        rows = "".join(
            f"<tr><td class='name'>{html.escape(str(p['name']))}</td>"
            f"<td>{html.escape(str(p['in']))}</td>"
            f"<td>{_type_html(p.get('schema', {}))}</td>"
            f"<td>{'<span class=req>required</span>' if p.get('required') else ''}</td>"
            f"<td>{_constraints(p.get('schema', {}))}</td>"
            f"<td>{_inline(str(p.get('description', '')))}</td></tr>"
            for p in params
        )
        out.append(
            "<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th>"
            "<th>Required</th><th>Constraints</th><th>Description</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    body = op.get("requestBody")
    if body:
        out.append(f"<h4>Request body</h4><p>{_body_schema(body.get('content'))}</p>")
    rows_r = []
    for code, raw in op.get("responses", {}).items():
        response = _resolve_response(doc, raw)
        rows_r.append(
            f"<tr><td class='name'>{html.escape(str(code))}</td>"
            f"<td>{_inline(str(response.get('description', '')))}</td>"
            f"<td>{_body_schema(response.get('content'))}</td></tr>"
        )
    out.append(
        "<h4>Responses</h4><table><thead><tr><th>Code</th><th>Description</th><th>Body</th>"
        f"</tr></thead><tbody>{''.join(rows_r)}</tbody></table></section>"
    )
    return "".join(out)


def _schema_html(name: str, schema: dict[str, Any]) -> str:
    esc = html.escape(name)
    out = [f"<section class='schema' id='schema-{esc}'><h3><code>{esc}</code></h3>"]
    out.append(_paragraphs(schema.get("description")))
    kind = schema.get("type")
    if kind is not None and kind != "object":
        out.append(f"<p>Type: {_type_html(schema)} {_constraints(schema)}</p>")
    out.append(_properties_table(schema))
    for example in schema.get("examples", []):
        text = json.dumps(example, indent=2, ensure_ascii=False)
        out.append(f"<p class='muted'>Example</p><pre><code>{html.escape(text)}</code></pre>")
    out.append("</section>")
    return "".join(out)


def docs_html(doc: dict[str, Any]) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external resources) for `doc`."""
    info = doc.get("info", {})
    title = str(info.get("title", "API"))
    ops: list[str] = []
    toc: list[str] = []
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in _METHODS:
            if method in item:
                op = item[method]
                anchor = _anchor(method, path)
                toc.append(
                    f"<li><a href='#{html.escape(anchor)}'><code>{html.escape(method.upper())} "
                    f"{html.escape(path)}</code></a> {_inline(str(op.get('summary', '')))}</li>"
                )
                ops.append(_operation_html(doc, path, method, op, shared))
    hooks = []
    for name, item in doc.get("webhooks", {}).items():
        for method in _METHODS:
            if method in item:
                hooks.append(_operation_html(doc, f"webhook {name}", method, item[method], []))
    schemas = doc.get("components", {}).get("schemas", {})
    schema_toc = ", ".join(_schema_link(name) for name in schemas)
    auth = (
        "<div class='note'><strong>Authentication.</strong> HTTP Basic with the account's API "
        "username and password on every <code>/v1</code> endpoint, e.g. "
        "<code>curl -u user:password</code>. Missing or wrong credentials answer 401.</div>"
    )
    example = (
        "curl -u user:password -H 'Content-Type: application/json' \\\n"
        '  -d \'{"to": "+37251234567", "messages": '
        '[{"channel": "sms", "text": "Hello"}]}\' \\\n'
        "  http://localhost:8000/v1/omnimessage"
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='muted'>Version {html.escape(str(info.get('version', '')))} · OpenAPI "
        f"{html.escape(str(doc.get('openapi', '')))} · machine-readable at "
        "<a href='/openapi.json'><code>/openapi.json</code></a></p>",
        _paragraphs(info.get("description")),
        auth,
        f"<pre><code>{html.escape(example)}</code></pre>",
        f"<nav><h2>Endpoints</h2><ul>{''.join(toc)}</ul></nav>",
        "<h2>Operations</h2>",
        *ops,
    ]
    if hooks:
        parts += ["<h2>Webhooks (sent by the server)</h2>", *hooks]
    parts += [
        "<h2>Schemas</h2>",
        f"<p>{schema_toc}</p>",
        *(_schema_html(name, schema) for name, schema in schemas.items()),
        "</main></body></html>",
    ]
    return "\n".join(parts)
