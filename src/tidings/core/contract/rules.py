"""Cross-field rules of the request models, each written once.

A model lists its rules in `__rules__`; `Wire` runs them after the model's own fields are valid
and adds each rule's JSON-schema form and sentence to the published schema. JSON null counts as
absent everywhere, so "present" in a schema means "there and not null".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, model_validator

from tidings.core.contract.problems import Problem, raise_at
from tidings.core.contract.types import SERVER_CHECK
from tidings.core.timeparse import parse_time_to_send

Schema = dict[str, Any]


def present(key: str) -> Schema:
    return {"required": [key], "properties": {key: {"not": {"type": "null"}}}}


def _given(model: BaseModel, keys: Sequence[str]) -> list[str]:
    return [key for key in keys if getattr(model, key) is not None]


def _ticks(keys: Sequence[str]) -> str:
    return ", ".join(f"`{key}`" for key in keys)


class Rule(ABC):
    """One rule: `check` lists the problems of a model whose fields are all valid."""

    @abstractmethod
    def check(self, model: BaseModel) -> list[Problem]: ...

    def schema(self) -> Schema | None:
        """The rule as a JSON schema, or None when a schema cannot say it."""
        return None

    @abstractmethod
    def sentence(self) -> str: ...


@dataclass(frozen=True)
class ExactlyOne(Rule):
    """None given: 106 on the object; several: 105 on the second one given."""

    keys: tuple[str, ...]
    what: str

    def check(self, model: BaseModel) -> list[Problem]:
        given = _given(model, self.keys)
        if not given:
            return [((), "missing", f"{self.what} needs exactly one of: {', '.join(self.keys)}")]
        if len(given) > 1:
            text = f"{self.what} takes only one of {', '.join(self.keys)}; got {', '.join(given)}"
            return [((given[1],), "invalid", text)]
        return []

    def schema(self) -> Schema:
        return {"oneOf": [present(key) for key in self.keys]}

    def sentence(self) -> str:
        return f"Exactly one of {_ticks(self.keys)}."


@dataclass(frozen=True)
class AtMostOne(Rule):
    keys: tuple[str, ...]
    what: str

    def check(self, model: BaseModel) -> list[Problem]:
        given = _given(model, self.keys)
        if len(given) > 1:
            text = (
                f"{self.what} takes at most one of {', '.join(self.keys)}; got {', '.join(given)}"
            )
            return [((given[1],), "invalid", text)]
        return []

    def schema(self) -> Schema:
        pairs = [{"allOf": [present(a), present(b)]} for a, b in combinations(self.keys, 2)]
        return {"not": {"anyOf": pairs}}

    def sentence(self) -> str:
        return f"At most one of {_ticks(self.keys)}."


@dataclass(frozen=True)
class NotBoth(Rule):
    """Two alternatives, e.g. validity (minutes) and ttl (seconds): 105 on the second."""

    first: str
    second: str
    detail: str

    def check(self, model: BaseModel) -> list[Problem]:
        if len(_given(model, (self.first, self.second))) == 2:
            return [((self.second,), "invalid", self.detail)]
        return []

    def schema(self) -> Schema:
        return {"not": {"allOf": [present(self.first), present(self.second)]}}

    def sentence(self) -> str:
        return f"Not both {_ticks((self.first, self.second))}."


@dataclass(frozen=True)
class AtLeastOne(Rule):
    """None given: 106 on `at` (a key), or on the object when `at` is None."""

    keys: tuple[str, ...]
    detail: str
    at: str | None = None

    def check(self, model: BaseModel) -> list[Problem]:
        if _given(model, self.keys):
            return []
        return [((self.at,) if self.at else (), "missing", self.detail)]

    def schema(self) -> Schema:
        return {"anyOf": [present(key) for key in self.keys]}

    def sentence(self) -> str:
        return f"At least one of {_ticks(self.keys)}."


@dataclass(frozen=True)
class Shapes(Rule):
    """The given content fields must form one of `shapes` (each a "+"-joined set of `keys`).

    Reported as precisely as possible: one field short of a shape is 106 on that field, one too
    many is 105 on it, anything else 105 on the object; every detail lists the valid shapes.
    """

    keys: tuple[str, ...]
    shapes: tuple[str, ...]
    what: str
    sets: frozenset[frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        sets = frozenset(frozenset(shape.split("+")) for shape in self.shapes)
        object.__setattr__(self, "sets", sets)

    def _name(self, given: frozenset[str]) -> str:
        return "+".join(key for key in self.keys if key in given)

    def check(self, model: BaseModel) -> list[Problem]:
        given = frozenset(_given(model, self.keys))
        sets = self.sets
        if given in sets:
            return []
        listed = "; ".join(self.shapes)
        if not given:
            return [((), "missing", f"{self.what} needs content; valid combinations: {listed}")]
        add = [key for key in self.keys if key not in given and given | {key} in sets]
        drop = [key for key in self.keys if key in given and given - {key} in sets]
        name = self._name(given)
        if len(add) == 1 and not drop:
            text = f"{name} also needs {add[0]}; valid combinations: {listed}"
            return [((add[0],), "missing", text)]
        loc = (drop[0],) if len(drop) == 1 and not add else ()
        return [(loc, "invalid", f"{name} is not a valid combination; valid: {listed}")]

    def schema(self) -> Schema:
        return {
            "oneOf": [
                {
                    "allOf": [
                        present(key) if key in shape else {"not": present(key)} for key in self.keys
                    ]
                }
                for shape in (frozenset(shape.split("+")) for shape in self.shapes)
            ]
        }

    def sentence(self) -> str:
        return "Valid combinations of content fields: " + "; ".join(f"`{s}`" for s in self.shapes)


@dataclass(frozen=True)
class TypeNamesField(Rule):
    """`type` names the field that carries the value (a WhatsApp template parameter)."""

    types: tuple[str, ...]

    def check(self, model: BaseModel) -> list[Problem]:
        kind = getattr(model, "type", None)
        if kind is not None and getattr(model, kind, None) is None:
            return [((kind,), "missing", f"a parameter of type {kind} needs {kind}")]
        return []

    def schema(self) -> Schema:
        # "type is k -> k present" for each k, written as one choice per type rather than
        # if/then (which schema-driven generators such as schemathesis cannot generate from).
        return {
            "anyOf": [
                {"not": {"required": ["type"]}},
                {"properties": {"type": {"not": {"enum": list(self.types)}}}},
                *(
                    {"allOf": [{"properties": {"type": {"const": kind}}}, present(kind)]}
                    for kind in self.types
                ),
            ]
        }

    def sentence(self) -> str:
        return "The property named by `type` must be present."


@dataclass(frozen=True)
class NotBefore(Rule):
    """`later` (a date-time) must not be before `earlier`; a JSON schema cannot compare them."""

    earlier: str
    later: str

    def check(self, model: BaseModel) -> list[Problem]:
        first, second = getattr(model, self.earlier), getattr(model, self.later)
        if first is None or second is None:
            return []
        if parse_time_to_send(second) < parse_time_to_send(first):
            return [((self.later,), "invalid", f"{self.later} must not be before {self.earlier}")]
        return []

    def sentence(self) -> str:
        return f"`{self.later}` must not be before `{self.earlier}`."


class Wire(BaseModel):
    """Base of every request model: strict JSON types, unknown fields ignored, rules run last."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        allow_inf_nan=False,
        json_schema_extra=lambda schema, cls: _publish_rules(schema, cls),
    )
    __rules__: ClassVar[tuple[Rule, ...]] = ()
    __examples__: ClassVar[tuple[dict[str, Any], ...]] = ()

    @model_validator(mode="after")
    def _run_rules(self) -> Self:
        problems = [problem for rule in self.__rules__ for problem in rule.check(self)]
        if problems:
            raise_at(type(self).__name__, problems, self)
        return self


def _publish_rules(schema: Schema, cls: Any) -> None:
    rules: tuple[Rule, ...] = getattr(cls, "__rules__", ())
    forms = [form for rule in rules if (form := rule.schema()) is not None]
    if forms:
        schema["allOf"] = [*schema.get("allOf", []), *forms]
    beyond = " ".join(rule.sentence() for rule in rules if rule.schema() is None)
    if beyond:
        schema[SERVER_CHECK] = beyond
    sentences = " ".join(rule.sentence() for rule in rules)
    if sentences:
        schema["description"] = f"{schema.get('description', '')} {sentences}".strip()
    examples = getattr(cls, "__examples__", ())
    if examples:
        schema["examples"] = list(examples)
