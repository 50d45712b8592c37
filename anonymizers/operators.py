"""Column operators: what a Treatment does to a whole column of values.

Each operator is a small class whose `apply` maps a column (a sequence of
values) to a new list of the same length. `build_operator` looks the name up
in a registry and validates the parameters with a pydantic model per operator
(unknown keys rejected) before anything is built, so a bad policy fails when
the operator is built rather than halfway through a release.

    keep          the column as it is
    redact        every cell (None too) becomes a constant
    nullify       every cell becomes None
    mask          Chinese display masks (张*, 138****5678, ...)
    pseudonymise  keyed HMAC per (owner, recipient or granted linkage domain, version)
    tokenise      reversible by the owner, keyed per (owner, recipient): AES-SIV or FF1
    generalise    age band, date to month/quarter/year, region code, address, bucket

Operators that compute per value (mask, pseudonymise, tokenise, generalise)
compute once per distinct value of the column and look the rest up.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar, Final, Literal, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from anonymizers._columns import map_distinct
from anonymizers.errors import KeyMaterialError, OperatorError
from anonymizers.free_text import RedactPiiOperator
from anonymizers.generalise import (
    DEFAULT_REFERENCE_DATE,
    DateLevel,
    RegionLevel,
    age_band,
    bucket,
    generalise_address,
    generalise_date,
    generalise_region,
)
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
from anonymizers.tokens import (
    Ff1Tokenizer,
    SivTokenizer,
    TokenFormat,
    ff1_token_key,
    siv_token_key,
)

__all__ = [
    "CONSTANT_TREATMENTS",
    "DEFAULT_REDACTION",
    "PSEUDONYM_KEY_PURPOSE",
    "PSEUDONYM_LINKAGE_KEY_PURPOSE",
    "AddressGeneraliseParams",
    "AgeBandParams",
    "BucketParams",
    "DateGeneraliseParams",
    "EmptyParams",
    "GeneraliseOperator",
    "GeneraliseParams",
    "KeepOperator",
    "MaskOperator",
    "MaskParams",
    "NullifyOperator",
    "Operator",
    "OperatorContext",
    "OperatorParams",
    "PseudonymiseOperator",
    "PseudonymiseParams",
    "RedactOperator",
    "RedactParams",
    "RegionGeneraliseParams",
    "TokeniseOperator",
    "TokeniseParams",
    "build_operator",
    "generalise_params_model",
    "narrows_birth_date",
    "operator_names",
    "without_birth_year",
]

DEFAULT_REDACTION: Final = "[REDACTED]"
# Treatments whose output does not depend on the values (redact: its constant, None
# included; nullify: None). Every other operator reads the value (mask and generalise
# keep None as None; pseudonyms and tokens are of the value). The release reads nothing
# of a column under one of these: not even whether its stored value is of its type.
CONSTANT_TREATMENTS: Final = frozenset({"redact", "nullify"})
# Context label of pseudonym keys; also keeps them apart from other derived keys.
PSEUDONYM_KEY_PURPOSE: Final = "pseudonym"
# Label of keys for a shared linkage domain: a label of its own, so no domain
# name can ever derive the key of an app that happens to share the name.
PSEUDONYM_LINKAGE_KEY_PURPOSE: Final = "pseudonym-linkage"

MaskKind = Literal["name", "mobile", "id_number", "address", "generic"]


@dataclass(frozen=True)
class OperatorContext:
    """Who the values belong to and who receives them, with the key material."""

    master_key: bytes = field(repr=False)  # kept out of repr so it never reaches a log
    key_version: int
    owner: str  # owning department name
    recipient: str  # app principal name (a granted linkage domain is pseudonymise's `linkage`)
    # The dataset id and column being released: token keys are bound to them, so a token
    # reverses only under the dataset and column that made it. Needed by tokenise only.
    dataset: str | None = None
    column: str | None = None


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
        return map_distinct(
            values, lambda distinct: [mask(v if isinstance(v, str) else str(v)) for v in distinct]
        )


class PseudonymiseOperator:
    name: ClassVar[str] = "pseudonymise"

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer

    def apply(self, values: Sequence[object]) -> list[object]:
        pseudonymise = self.pseudonymizer
        return map_distinct(values, lambda distinct: [pseudonymise(v) for v in distinct])


class TokeniseOperator:
    """Owner-reversible tokens (see anonymizers.tokens); values an FF1 format
    cannot hold become None."""

    name: ClassVar[str] = "tokenise"

    def __init__(self, tokenizer: SivTokenizer | Ff1Tokenizer) -> None:
        self.tokenizer = tokenizer

    def apply(self, values: Sequence[object]) -> list[object]:
        return list(self.tokenizer.tokenise_many(values))


class GeneraliseOperator:
    """Applies a generalisation (see anonymizers.generalise) once per distinct
    value; unreadable values become None."""

    name: ClassVar[str] = "generalise"

    def __init__(self, generalise: Callable[[object], str | None]) -> None:
        self.generalise = generalise

    def apply(self, values: Sequence[object]) -> list[object]:
        generalise = self.generalise
        return map_distinct(values, lambda distinct: [generalise(v) for v in distinct])


# --- parameters -------------------------------------------------------------


class OperatorParams(BaseModel):
    """Base of the per-operator parameter models (public so a policy checker
    can validate treatments without building operators)."""

    # strict: a policy saying keep_start: "2" is a mistake to report, not coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class EmptyParams(OperatorParams):
    """keep and nullify take no parameters."""


class PseudonymiseParams(OperatorParams):
    """`linkage` names a shared linkage domain. The gateway sets it only when
    the policy grants the recipient that domain: every recipient given the
    same domain (for the same owner and key version) gets the same pseudonyms
    and can join on them; without it each recipient's pseudonyms are its own."""

    linkage: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[^/]+$")


class TokeniseParams(OperatorParams):
    mode: Literal["siv", "ff1"]
    format: TokenFormat | None = None
    normalise: bool = True

    @model_validator(mode="after")
    def _format_only_with_ff1(self) -> TokeniseParams:
        if self.mode == "ff1" and self.format is None:
            raise ValueError('mode "ff1" needs a "format"')
        if self.mode == "siv" and self.format is not None:
            raise ValueError('"format" applies only to mode "ff1"')
        if self.mode == "ff1" and "normalise" in self.model_fields_set:
            raise ValueError('"normalise" applies only to mode "siv" (ff1 always normalises)')
        return self


class AgeBandParams(OperatorParams):
    """Input: an age, an ISO birth date or an 18/15-digit resident ID number."""

    kind: Literal["age_band"]
    width: int = Field(default=10, ge=1, le=100)
    top: int | None = Field(default=None, ge=1, le=150)
    # ISO "YYYY-MM-DD" (YAML may already have made it a date).
    reference_date: dt.date = DEFAULT_REFERENCE_DATE

    @field_validator("reference_date", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("must be an ISO date YYYY-MM-DD") from None
        if isinstance(value, dt.datetime):
            raise ValueError("must be a date, not a date and time")
        return value


class DateGeneraliseParams(OperatorParams):
    kind: Literal["date"]
    level: DateLevel = "month"


class RegionGeneraliseParams(OperatorParams):
    """Input: a GB/T 2260 code (6 digits, or the 9/12-digit statistical codes)."""

    kind: Literal["region"]
    level: RegionLevel = "city"


class AddressGeneraliseParams(OperatorParams):
    kind: Literal["address"]
    level: AddressLevel = "community"


class BucketParams(OperatorParams):
    """Exactly one of `width` and `edges` (strictly increasing); optional
    bottom/top coding (below `bottom` -> "<bottom", from `top` -> ">=top")."""

    kind: Literal["bucket"]
    width: float | None = Field(default=None, gt=0)
    edges: list[float] | None = Field(default=None, min_length=1, max_length=1000)
    bottom: float | None = None
    top: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BucketParams:
        if (self.width is None) == (self.edges is None):
            raise ValueError('exactly one of "width" and "edges" is required')
        numbers = [
            x for x in (self.width, self.bottom, self.top, *(self.edges or ())) if x is not None
        ]
        if not all(math.isfinite(x) for x in numbers):
            raise ValueError("numbers must be finite")
        if self.edges is not None and any(
            low >= high for low, high in zip(self.edges, self.edges[1:], strict=False)
        ):
            raise ValueError('"edges" must be strictly increasing')
        if self.bottom is not None and self.top is not None and self.bottom >= self.top:
            raise ValueError('"bottom" must be below "top"')
        return self


GeneraliseParams = (
    AgeBandParams
    | DateGeneraliseParams
    | RegionGeneraliseParams
    | AddressGeneraliseParams
    | BucketParams
)
_GENERALISE_MODELS: Final[Mapping[str, type[OperatorParams]]] = {
    "age_band": AgeBandParams,
    "date": DateGeneraliseParams,
    "region": RegionGeneraliseParams,
    "address": AddressGeneraliseParams,
    "bucket": BucketParams,
}


def generalise_params_model(params: Mapping[str, object]) -> type[OperatorParams]:
    """The parameter model for a "generalise" treatment, chosen by its "kind".

    Raises OperatorError when "kind" is missing or unknown."""
    kind = params.get("kind") if isinstance(params, Mapping) else None
    model = _GENERALISE_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise OperatorError(
            "invalid parameters for operator 'generalise': kind: expected one of "
            f"{sorted(_GENERALISE_MODELS)}"
        )
    return model


class RedactParams(OperatorParams):
    constant: str = DEFAULT_REDACTION


class MaskParams(OperatorParams):
    """`show_birth_year` (kind id_number only): the release withdraws it when
    another released column narrows the birth date (see `narrows_birth_date`)."""

    kind: MaskKind
    level: AddressLevel = "community"
    keep_start: int = Field(default=1, ge=0)
    keep_end: int = Field(default=1, ge=0)
    show_birth_year: bool = False

    @model_validator(mode="after")
    def _only_parameters_of_this_kind(self) -> MaskParams:
        # A level on a name mask is a policy mistake; silently ignoring it
        # would hide that the author expected something else.
        if "level" in self.model_fields_set and self.kind != "address":
            raise ValueError('"level" applies only to kind "address"')
        if {"keep_start", "keep_end"} & self.model_fields_set and self.kind != "generic":
            raise ValueError('"keep_start" and "keep_end" apply only to kind "generic"')
        if "show_birth_year" in self.model_fields_set and self.kind != "id_number":
            raise ValueError('"show_birth_year" applies only to kind "id_number"')
        return self


_ParamsT = TypeVar("_ParamsT", bound=BaseModel)


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


def narrows_birth_date(name: str, params: Mapping[str, object], quasi_identifier: bool) -> bool:
    """Whether a released column may narrow a person's birth date: an age band or
    a generalised date (of any column: an age band can be read from an ID number),
    or any quasi-identifier (an age or a birth year kept as it is cannot be told
    apart by name from other quasi-identifiers, so every one counts)."""
    if quasi_identifier:
        return True
    return name == GeneraliseOperator.name and params.get("kind") in ("age_band", "date")


def without_birth_year(name: str, params: Mapping[str, object]) -> Mapping[str, object]:
    """An ID mask's parameters with the birth year withdrawn (others unchanged)."""
    if name == MaskOperator.name and params.get("show_birth_year") is True:
        return {**params, "show_birth_year": False}
    return params


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
        "id_number": partial(mask_id_number, show_birth_year=p.show_birth_year),
        "address": partial(mask_address, level=p.level),
        "generic": partial(mask_generic, keep_start=p.keep_start, keep_end=p.keep_end),
    }
    return MaskOperator(masks[p.kind])


def _build_pseudonymise(params: Mapping[str, object], context: OperatorContext) -> Operator:
    p = _validate(PseudonymiseOperator.name, PseudonymiseParams, params)
    # One key per (owner, recipient): two recipients cannot join their releases
    # on the pseudonym unless policy names them a shared linkage domain, which
    # then takes the recipient's place (under a label of its own).
    if p.linkage is None:
        purpose, recipient = PSEUDONYM_KEY_PURPOSE, context.recipient
    else:
        purpose, recipient = PSEUDONYM_LINKAGE_KEY_PURPOSE, p.linkage
    key = derive_key(
        context.master_key, purpose, context.owner, recipient, version=context.key_version
    )
    return PseudonymiseOperator(Pseudonymizer(key, context.key_version))


def _build_tokenise(params: Mapping[str, object], context: OperatorContext) -> Operator:
    p = _validate(TokeniseOperator.name, TokeniseParams, params)
    # Keyed per (owner, recipient, dataset, column): two apps cannot link their
    # releases on the tokens; the owner reverses one by naming the app it came
    # back from, and only under the dataset and column that produced it.
    owner, recipient, version = context.owner, context.recipient, context.key_version
    if context.dataset is None or context.column is None:
        raise KeyMaterialError("tokenise needs the dataset and column its keys are bound to")
    where = {"dataset": context.dataset, "column": context.column}
    tokenizer: SivTokenizer | Ff1Tokenizer
    if p.mode == "siv":
        key = siv_token_key(context.master_key, owner, recipient, version, **where)
        tokenizer = SivTokenizer(key, version, normalise=p.normalise)
    else:
        assert p.format is not None  # checked by TokeniseParams
        key = ff1_token_key(context.master_key, owner, recipient, version, **where)
        tokenizer = Ff1Tokenizer(key, p.format)
    return TokeniseOperator(tokenizer)


def _build_generalise(params: Mapping[str, object], context: OperatorContext) -> Operator:
    p = _validate(GeneraliseOperator.name, generalise_params_model(params), params)
    generalise: Callable[[object], str | None]
    if isinstance(p, AgeBandParams):
        generalise = partial(age_band, width=p.width, top=p.top, reference_date=p.reference_date)
    elif isinstance(p, DateGeneraliseParams):
        generalise = partial(generalise_date, level=p.level)
    elif isinstance(p, RegionGeneraliseParams):
        generalise = partial(generalise_region, level=p.level)
    elif isinstance(p, AddressGeneraliseParams):
        generalise = partial(generalise_address, level=p.level)
    else:
        assert isinstance(p, BucketParams)
        generalise = partial(bucket, width=p.width, edges=p.edges, bottom=p.bottom, top=p.top)
    return GeneraliseOperator(generalise)


class RedactPiiParams(OperatorParams):
    style: Literal["tag", "mask", "pseudonym"] = "tag"


def _build_redact_pii(params: Mapping[str, object], context: OperatorContext) -> Operator:
    p = _validate(RedactPiiOperator.name, RedactPiiParams, params)
    pseudonymizer = None
    if p.style == "pseudonym":
        key = derive_key(
            context.master_key,
            PSEUDONYM_KEY_PURPOSE,
            context.owner,
            context.recipient,
            version=context.key_version,
        )
        pseudonymizer = Pseudonymizer(key, context.key_version)
    return RedactPiiOperator(p.style, pseudonymizer)


_BUILDERS: Final[Mapping[str, _Builder]] = {
    KeepOperator.name: _build_keep,
    RedactOperator.name: _build_redact,
    NullifyOperator.name: _build_nullify,
    MaskOperator.name: _build_mask,
    PseudonymiseOperator.name: _build_pseudonymise,
    TokeniseOperator.name: _build_tokenise,
    GeneraliseOperator.name: _build_generalise,
    RedactPiiOperator.name: _build_redact_pii,
}
_NAMES: Final = frozenset(_BUILDERS)


def operator_names() -> frozenset[str]:
    """Names `build_operator` accepts."""
    return _NAMES


def build_operator(name: str, params: Mapping[str, object], context: OperatorContext) -> Operator:
    """Build the operator called `name` from validated `params`.

    Raises OperatorError for an unknown name or invalid parameters, and
    KeyMaterialError (both are ValueError) when "pseudonymise" or "tokenise"
    cannot derive its key from `context` (short master key, version < 1, "/"
    or "" in owner or recipient). No message contains a parameter or data value.
    """
    builder = _BUILDERS.get(name) if isinstance(name, str) else None
    if builder is None:
        raise OperatorError(f"unknown operator; expected one of {sorted(_NAMES)}")
    return builder(params, context)
