"""Generated artefacts for integrators: JSON Schemas per event and the markdown catalogue.

Both are derived from the models (never hand-written), so they cannot drift from the code.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from compressor_contracts.catalogue import CATALOGUE
from compressor_contracts.envelope import (
    CONTENT_TYPE,
    TRACEPARENT_HEADER,
    WIRE_REQUIRED,
    CloudEvent,
    EventData,
)
from compressor_contracts.examples import example_event
from compressor_contracts.topology import (
    DEAD_LETTER_MAX_LENGTH,
    DELIVERY_LIMIT,
    EXCHANGE,
    EXCHANGE_TYPE,
    INTEGRATION_ONLY,
    QUEUES,
    SERVICES,
    consumers_of,
    dead_letter_exchange,
    dead_letter_queue,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _doc(cls: type) -> str:
    return " ".join((inspect.getdoc(cls) or "").split())


def event_schema(cls: type[EventData]) -> dict[str, Any]:
    """JSON Schema of the whole envelope CloudEvent[cls], with `type` pinned to the event's type."""
    envelope: type[CloudEvent[Any]] = CloudEvent[cls]  # type: ignore[valid-type]  # chosen at run time
    schema = envelope.model_json_schema()
    schema["required"] = list(WIRE_REQUIRED)
    schema["properties"]["type"] = {
        "const": cls.event_type(),
        "description": schema["properties"]["type"]["description"],
        "type": "string",
    }
    routing_key = cls.routing_key()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": routing_key,
        "description": _doc(cls),
        "x-routing-key": routing_key,
        "x-producer": cls.producer,
        "x-phase": cls.phase,
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for routing_key, cls in CATALOGUE.items():
        path = directory / f"{routing_key}.json"
        path.write_text(json.dumps(event_schema(cls), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


# --- markdown ------------------------------------------------------------------


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _bounds(lo: Any, hi: Any, unit: str = "") -> str:
    if lo is None and hi is None:
        return ""
    if lo is not None and hi is not None:
        return f"{lo}-{hi}{unit}"
    return f"≥ {lo}{unit}" if lo is not None else f"≤ {hi}{unit}"


class _SchemaTable:
    """Flattens a model's JSON schema into rows: nested objects as 'a.b', list items as 'a[].b'."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.rows: list[tuple[str, str, str, str]] = []

    def resolve(self, node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        ref = node.get("$ref")
        if ref is None:
            return node, None
        name = ref.rsplit("/", 1)[-1]
        return self.defs[name], name

    def describe_type(self, node: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """A readable type, and the object schema to expand under it (if any)."""
        if "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            parts = [self.describe_type(o) for o in options]
            text = " or ".join(p[0] for p in parts)
            nested = next((p[1] for p in parts if p[1] is not None), None)
            return (text + " or null" if len(options) < len(node["anyOf"]) else text), nested
        target, name = self.resolve(node)
        if "enum" in target:
            return "enum: " + ", ".join(f"`{v}`" for v in target["enum"]), None
        if "const" in target:
            return f"`{target['const']}`", None
        kind = target.get("type")
        if kind == "object" or "properties" in target:
            return f"object ({name})" if name else "object", target
        if kind == "array":
            item_text, nested = self.describe_type(target.get("items", {}))
            size = _bounds(target.get("minItems"), target.get("maxItems"), " items")
            return f"list of {item_text}" + (f", {size}" if size else ""), nested
        if kind == "string":
            text = f"string ({target['format']})" if "format" in target else "string"
            size = _bounds(target.get("minLength"), target.get("maxLength"), " chars")
            if size:
                text += f", {size}"
            if "pattern" in target and len(target["pattern"]) <= 60:
                text += f", pattern `{target['pattern']}`"
            return text, None
        if kind in ("integer", "number"):
            if "minimum" in target and "maximum" in target:
                return f"{kind}, {target['minimum']}-{target['maximum']}", None
            limits = [
                f"{sign} {target[key]}"
                for key, sign in (
                    ("minimum", "≥"),
                    ("exclusiveMinimum", ">"),
                    ("maximum", "≤"),
                    ("exclusiveMaximum", "<"),
                )
                if key in target
            ]
            return ", ".join([kind, *limits]), None
        return str(kind or "any"), None

    def add(self, schema: dict[str, Any], prefix: str = "", skip: tuple[str, ...] = ()) -> None:
        required = set(schema.get("required", ()))
        for field, node in schema.get("properties", {}).items():
            if field in skip:
                continue
            type_text, nested = self.describe_type(node)
            target, _ = self.resolve(node)
            description = node.get("description") or target.get("description") or ""
            if "default" in node and node["default"] not in (None, []):
                description += f" Default: `{json.dumps(node['default'], ensure_ascii=False)}`."
            name = f"{prefix}{field}"
            self.rows.append((name, type_text, "yes" if field in required else "no", description))
            if nested is not None:
                suffix = "[]." if type_text.startswith("list of") else "."
                self.add(nested, prefix=f"{name}{suffix}")

    def markdown(self) -> list[str]:
        lines = ["| field | type | required | description |", "|---|---|---|---|"]
        lines += [f"| `{n}` | {_cell(t)} | {r} | {_cell(d)} |" for n, t, r, d in self.rows]
        return lines


def _field_table(model: type[EventData]) -> list[str]:
    schema = model.model_json_schema()
    table = _SchemaTable(schema.get("$defs", {}))
    table.add(schema)
    return table.markdown()


def _envelope_table() -> list[str]:
    schema = CloudEvent[EventData].model_json_schema()
    schema["required"] = list(WIRE_REQUIRED)
    table = _SchemaTable(schema.get("$defs", {}))
    table.add(schema, skip=("data",))
    table.rows.append(("data", "object", "yes", "The event payload; its fields are listed per event below."))
    return table.markdown()


def _consumers(routing_key: str) -> str:
    found = consumers_of(routing_key)
    if not found:
        return "none in the system (integration-only)" if routing_key in INTEGRATION_ONLY else "none"
    return ", ".join(f"{service} (`{queue}`)" for service, queue in found)


def catalogue_markdown() -> str:
    out = [
        "# Event catalogue v1",
        "",
        "Generated by `python -m compressor_contracts catalogue` from the `compressor-contracts` package; "
        "do not edit by hand. JSON Schemas: `python -m compressor_contracts schemas <dir>`.",
        "",
        "## Exchange and binding",
        "",
        f"- Every event is published to the durable **{EXCHANGE_TYPE}** exchange `{EXCHANGE}`.",
        "- The routing key is the event name with its version: `job.requested.v1`. The CloudEvents `type` is "
        "the routing key under the prefix `com.compressorservice.`.",
        "- To subscribe, declare your own durable queue (quorum recommended, with a dead-letter exchange and "
        "an `x-delivery-limit`) and bind it to the exchange with explicit routing keys "
        "(`job.report_published.v1`) or topic patterns (`job.#` = every job event, any version; "
        "`job.*.v1` = every version-1 job event).",
        "- Delivery is at least once: deduplicate on the event `id` (with `source`).",
        "- Payloads reject unknown fields, so every change to a payload, even an added optional field, is a "
        "new version (`.v2`), published next to the old one while consumers migrate.",
        "",
        "## AMQP message",
        "",
        f"- Body: the whole envelope as JSON (CloudEvents structured mode), `content_type` = `{CONTENT_TYPE}`, UTF-8.",
        "- `message_id` = the event `id`; `type` = the event `type`; `correlation_id` = `correlationid`; "
        "`delivery_mode` = 2 (persistent).",
        f"- Header `{TRACEPARENT_HEADER}` (and `tracestate` when present): W3C trace context, so one trace "
        "follows a job across services.",
        "",
        "## Envelope (CloudEvents 1.0)",
        "",
        "`subject` is the job id for job events (equal to `data.job_id`) and the backup id for backup events.",
        "`correlationid` is shared by every event of one job: the id of its `job.requested` event.",
        "",
        *_envelope_table(),
        "",
        "## Queues of the system",
        "",
        f"Every queue is durable, `x-queue-type: quorum`, `x-delivery-limit: {DELIVERY_LIMIT}`, and dead-letters "
        "into its service's fanout exchange `<service>.dead-letter`, bound to the quorum queue "
        f"`<service>.dead-letters` (`x-max-length: {DEAD_LETTER_MAX_LENGTH}`, `x-overflow: reject-publish`: a full "
        "dead-letter queue refuses new dead letters rather than dropping the oldest).",
        "",
        "| queue | bindings | purpose |",
        "|---|---|---|",
        *[f"| `{q.name}` | {', '.join(f'`{b}`' for b in q.bindings)} | {_cell(q.description)} |" for q in QUEUES],
        "",
        "| service | dead-letter exchange | dead-letter queue |",
        "|---|---|---|",
        *[f"| {s} | `{dead_letter_exchange(s)}` | `{dead_letter_queue(s)}` |" for s in SERVICES],
        "",
        "## Events",
        "",
        "| routing key | producer | phase | consumers |",
        "|---|---|---|---|",
        *[
            f"| [`{key}`](#{key.replace('.', '')}) | {cls.producer} | {cls.phase or 'any'} | {_consumers(key)} |"
            for key, cls in CATALOGUE.items()
        ],
    ]
    for key, cls in CATALOGUE.items():
        example = example_event(key).model_dump(mode="json")
        out += [
            "",
            f"### {key}",
            "",
            _doc(cls),
            "",
            f"- type: `{cls.event_type()}`",
            f"- producer: {cls.producer} (source `/services/{cls.producer}`)",
            f"- consumers: {_consumers(key)}",
            f"- phase: {cls.phase or 'any'}",
            f"- subject: `data.{cls.subject_field}`",
            "",
            *_field_table(cls),
            "",
            "<details><summary>Example data</summary>",
            "",
            "```json",
            json.dumps(example["data"], indent=2, ensure_ascii=False),
            "```",
            "",
            "</details>",
        ]
    return "\n".join(out) + "\n"


def write_catalogue(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(catalogue_markdown(), encoding="utf-8")
    return path
