"""Column operators: what a Treatment does to a whole column of values.

Each operator is a small class whose `apply` maps a column (a sequence of
values) to a new list of the same length. `build_operator` looks the name up
in a registry and validates the parameters with a pydantic model per operator
(unknown keys rejected) before anything is built, so a bad policy fails when
the operator is built rather than halfway through a release.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar, Final, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from anonymizers.errors import OperatorError
from anonymizers.keys import derive_key
from anonymizers.masking import (
    AddressLevel,
    mask_address,
    mask_generic,
    mask_id_number,
    mask_mobile,
    mask_name,
)
from anonymizers.pseudonyms import Pseudonymizer

__all__ = [
    "DEFAULT_REDACTION",
    "PSEUDONYM_KEY_PURPOSE",
    "EmptyParams",
    "KeepOperator",
    "MaskOperator",
    "MaskParams",
    "NullifyOperator",
    "Operator",
    "OperatorContext",
    "OperatorParams",
    "PseudonymiseOperator",
    "RedactOperator",
    "RedactParams",
    "build_operator",
    "operator_names",
]

DEFAULT_REDACTION: Final = "[REDACTED]"
# Context label of pseudonym keys; also keeps them apart from other derived keys.
PSEUDONYM_KEY_PURPOSE: Final = "pseudonym"

MaskKind = Literal["name", "mobile", "id_number", "address", "generic"]


@dataclass(frozen=True)
class OperatorContext:
    """Who the values belong to and who receives them, with the key material."""

    master_key: bytes = field(repr=False)  # kept out of repr so it never reaches a log
    key_version: int
    owner: str  # owning department name
    recipient: str  # app principal name, or a shared linkage domain granted by policy


class Operator(Protocol):
    """Maps a column to a new list of the same length."""

    name: ClassVar[str]

    def apply(self, values: Sequence[object]) -> list[object]: ...


class KeepOperator:
    name: ClassVar[str] = "keep"

    def apply(self, values: Sequence[object]) -> list[object]:
        return list(values)


class RedactOperator:
    """Every value, None included, becomes the constant: a redacted column must
    not reveal which rows were empty."""

    name: ClassVar[str] = "redact"

    def __init__(self, constant: str) -> None:
        self.constant = constant

    def apply(self, values: Sequence[object]) -> list[object]:
        return [self.constant] * len(values)


class NullifyOperator:
    name: ClassVar[str] = "nullify"

    def apply(self, values: Sequence[object]) -> list[object]:
        return [None] * len(values)


class MaskOperator:
    """Applies a mask function to each value; None stays None and other
    non-str values are masked as their str()."""

    name: ClassVar[str] = "mask"

    def __init__(self, mask: Callable[[str], str]) -> None:
        self.mask = mask

    def apply(self, values: Sequence[object]) -> list[object]:
        mask = self.mask
        return [
            None if v is None else mask(v if isinstance(v, str) else str(v)) for v in values
        ]


class PseudonymiseOperator:
    name: ClassVar[str] = "pseudonymise"

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer

    def apply(self, values: Sequence[object]) -> list[object]:
        pseudonymise = self.pseudonymizer
        return [pseudonymise(v) for v in values]


# --- parameters -------------------------------------------------------------


class OperatorParams(BaseModel):
    """Base of the per-operator parameter models (public so a policy checker
    can validate treatments without building operators)."""

    # strict: a policy saying keep_start: "2" is a mistake to report, not coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class EmptyParams(OperatorParams):
    """keep, nullify and pseudonymise take no parameters."""


class RedactParams(OperatorParams):
    constant: str = DEFAULT_REDACTION


class MaskParams(OperatorParams):
    kind: MaskKind
    level: AddressLevel = "community"
    keep_start: int = Field(default=1, ge=0)
    keep_end: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def _only_parameters_of_this_kind(self) -> MaskParams:
        # A level on a name mask is a policy mistake; silently ignoring it
        # would hide that the author expected something else.
        if "level" in self.model_fields_set and self.kind != "address":
            raise ValueError('"level" applies only to kind "address"')
        if {"keep_start", "keep_end"} & self.model_fields_set and self.kind != "generic":
            raise ValueError('"keep_start" and "keep_end" apply only to kind "generic"')
        return self


_ParamsT = TypeVar("_ParamsT", bound=OperatorParams)


def _validate(operator: str, model: type[_ParamsT], params: Mapping[str, object]) -> _ParamsT:
    # Strict mode accepts only a dict; any other mapping is copied into one.
    data = dict(params) if isinstance(params, Mapping) else params
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Rebuilt from locations and messages only: str(exc) would quote the
        # offending input, which may be a data value; `from None` keeps the
        # ValidationError (and its input) out of tracebacks too.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'params'}: "
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        )
        raise OperatorError(f"invalid parameters for operator {operator!r}: {problems}") from None


# --- registry -----------------------------------------------------------------

_Builder = Callable[[Mapping[str, object], OperatorContext], Operator]


def _build_keep(params: Mapping[str, object], context: OperatorContext) -> Operator:
    _validate(KeepOperator.name, EmptyParams, params)
    return KeepOperator()


def _build_redact(params: Mapping[str, object], context: OperatorContext) -> Operator:
    return RedactOperator(_validate(RedactOperator.name, RedactParams, params).constant)


def _build_nullify(params: Mapping[str, object], context: OperatorContext) -> Operator:
    _validate(NullifyOperator.name, EmptyParams, params)
    return NullifyOperator()


def _build_mask(params: Mapping[str, object], context: OperatorContext) -> Operator:
    p = _validate(MaskOperator.name, MaskParams, params)
    masks: dict[MaskKind, Callable[[str], str]] = {
        "name": mask_name,
        "mobile": mask_mobile,
        "id_number": mask_id_number,
        "address": partial(mask_address, level=p.level),
        "generic": partial(mask_generic, keep_start=p.keep_start, keep_end=p.keep_end),
    }
    return MaskOperator(masks[p.kind])


def _build_pseudonymise(params: Mapping[str, object], context: OperatorContext) -> Operator:
    _validate(PseudonymiseOperator.name, EmptyParams, params)
    # One key per (owner, recipient): two recipients cannot join their releases
    # on the pseudonym unless policy names them a shared linkage domain.
    key = derive_key(
        context.master_key,
        PSEUDONYM_KEY_PURPOSE,
        context.owner,
        context.recipient,
        version=context.key_version,
    )
    return PseudonymiseOperator(Pseudonymizer(key, context.key_version))


_BUILDERS: Final[Mapping[str, _Builder]] = {
    KeepOperator.name: _build_keep,
    RedactOperator.name: _build_redact,
    NullifyOperator.name: _build_nullify,
    MaskOperator.name: _build_mask,
    PseudonymiseOperator.name: _build_pseudonymise,
}
_NAMES: Final = frozenset(_BUILDERS)


def operator_names() -> frozenset[str]:
    """Names `build_operator` accepts."""
    return _NAMES


def build_operator(name: str, params: Mapping[str, object], context: OperatorContext) -> Operator:
    """Build the operator called `name` from validated `params`.

    Raises OperatorError for an unknown name or invalid parameters, and
    KeyMaterialError (both are ValueError) when "pseudonymise" cannot derive its
    key from `context` (short master key, version < 1, "/" or "" in owner or
    recipient). No message contains a parameter or data value.
    """
    builder = _BUILDERS.get(name) if isinstance(name, str) else None
    if builder is None:
        raise OperatorError(f"unknown operator; expected one of {sorted(_NAMES)}")
    return builder(params, context)
