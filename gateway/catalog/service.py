"""Catalog logic: departments register sources and datasets; everyone reads what they may."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from anonymizers import AnonymizerError, OperatorContext, build_operator
from gateway.access.permissions import Resource, allowed, require, require_caller
from gateway.auditlog.service import record, record_in
from gateway.catalog.catalog_context import CatalogContext
from gateway.catalog.credentials import decrypt_url, encrypt_url
from gateway.catalog.engines import connect_failure, make_source_engine, table_columns
from gateway.catalog.models import Dataset, PolicyVersion, Source
from gateway.catalog.ownership import claim_identity
from gateway.catalog.repository import CatalogRepository
from gateway.catalog.rules import rebuild_policy_rules
from gateway.catalog.scan import scan_dataset
from gateway.catalog.schemas import (
    ColumnFindingOut,
    ColumnOut,
    DatasetCreate,
    DatasetOut,
    PrivacyBudgetOut,
    PurposeNodeOut,
    PurposeOut,
    ScopeOut,
    SourceCreate,
    SourceOut,
)
from gateway.catalog.source_identity import database_identity
from gateway.catalog.source_urls import vet_source_url, with_default_driver
from gateway.catalog.table_location import vet_table_location
from gateway.errors import Conflict, GatewayError, InvalidRequest, NotFound, SourceError
from gateway.principal import AuthPrincipal
from gateway.queries.binding import DatasetView, coerce
from gateway.store.base import new_id, utcnow
from policies import PurposeRule, UsagePolicy, check_policy, policy_version

# Declared types a stored column may back (dates are often kept as ISO text).
_COMPATIBLE = {
    "string": {"string"},
    "integer": {"integer", "boolean"},
    "number": {"number", "integer"},
    "date": {"date", "string"},
    "boolean": {"boolean", "integer"},
}


def source_engine(ctx: CatalogContext, source: Source) -> Any:
    return ctx.engines.engine(
        source.id,
        lambda: decrypt_url(ctx.keyring, source.name, source.url_ciphertext, source.key_version),
    )


def register_source(
    session: Session, ctx: CatalogContext, principal: AuthPrincipal, body: SourceCreate
) -> SourceOut:
    require("source.register", principal)
    repo = CatalogRepository(session)
    if repo.source_by_name(body.name) is not None:
        raise Conflict("a source with this name exists")
    url = with_default_driver(body.url.get_secret_value())
    try:
        return _register_source(session, ctx, principal, body, repo, url)
    except GatewayError as exc:
        if exc.reason in _LOGGED_REFUSALS:
            # Committed on its own: the registration's transaction is rolled back. The
            # entry names the source and the reason, never the URL or a path.
            record(
                ctx,
                "source.registered",
                principal,
                source=body.name,
                decision={"allowed": False, "reason_code": exc.reason},
                outcome="refused",
            )
        raise


# Attempts on a database that is not the department's to register: the store, another
# department's database, a file outside the department's directory.
_LOGGED_REFUSALS = frozenset(
    {"source_is_store", "source_owned_elsewhere", "source_outside_directory"}
)


def _register_source(
    session: Session,
    ctx: CatalogContext,
    principal: AuthPrincipal,
    body: SourceCreate,
    repo: CatalogRepository,
    url: str,
) -> SourceOut:
    dialect = vet_source_url(url, ctx.settings, principal.domain).get_backend_name()
    try:
        engine = make_source_engine(url, 1)
    except Exception:  # unknown dialect or driver; the message may hold the URL
        raise InvalidRequest("no database driver is installed for this URL") from None
    try:
        failure = connect_failure(engine, ctx.settings.statement_timeout_seconds)
        if failure is not None:
            raise InvalidRequest(failure.detail, reason=failure.code)
        identity = database_identity(engine)
    finally:
        engine.dispose()
    claim_identity(repo, ctx, principal.domain, dialect, identity)
    ciphertext, version = encrypt_url(ctx.keyring, body.name, url)
    source = Source(
        id=new_id("src"),
        name=body.name,
        owner=principal.domain,
        dialect=dialect,
        url_ciphertext=ciphertext,
        key_version=version,
        identity=identity,
    )
    repo.add(source)
    record_in(session, ctx, "source.registered", principal, source=source.name, dialect=dialect)
    return source_out(source)


def source_out(source: Source) -> SourceOut:
    return SourceOut(
        id=source.id,
        name=source.name,
        owner=source.owner,
        dialect=source.dialect,
        created_at=source.created_at,
        retired_at=source.retired_at,
        retired_by=source.retired_by,
        retire_reason=source.retire_reason,
    )


def refuse_retired(row: Source | Dataset) -> None:
    """A retired source or dataset takes no change; retiring it again is a conflict too."""
    if row.retired_at is not None:
        what = "source" if isinstance(row, Source) else "dataset"
        zh = "数据源" if isinstance(row, Source) else "数据集"
        raise Conflict(f"该{zh}已停用 / this {what} is retired", reason="already_retired")


def mark_retired(
    session: Session, row: Source | Dataset, principal: AuthPrincipal, reason: str
) -> None:
    refuse_retired(row)
    if not CatalogRepository(session).claim_retirement(row, principal.name, reason):
        refuse_retired(row)  # retired by a concurrent request since it was read


def list_sources(session: Session, principal: AuthPrincipal) -> list[SourceOut]:
    require("source.list", principal)
    return [source_out(s) for s in CatalogRepository(session).sources(principal.domain)]


def _check_columns(body: DatasetCreate, stored: dict[str, str]) -> None:
    for column in body.columns:
        storage = stored.get(column.name)
        if storage is None:
            raise InvalidRequest(f"column {column.name} is not in the source table")
        if storage not in _COMPATIBLE[column.type]:
            raise InvalidRequest(f"column {column.name} is stored as {storage}, not {column.type}")


_PROBE_CONTEXT = OperatorContext(
    master_key=bytes(32),
    key_version=1,
    owner="policy-check",
    recipient="policy-check",
    dataset="policy-check",
    column="policy-check",
)


def _check_treatments(policy: UsagePolicy) -> list[str]:
    """Build every operator once, so a bad parameter fails at registration, not at a run."""
    problems = []
    for rule in policy.purposes:
        for name, column in rule.columns.items():
            try:
                build_operator(column.treatment, column.params, _PROBE_CONTEXT)
            except AnonymizerError:
                problems.append(f"purpose {rule.purpose}: column {name}: invalid treatment params")
    return problems


def _check_scope_values(policy: UsagePolicy, types: dict[str, str]) -> list[str]:
    """A literal row-scope value is bound at every run: it must fit its column's type."""
    problems = []
    for rule in policy.purposes:
        for cond in rule.row_scope:
            kind = types.get(cond.column)
            if kind is None or cond.value is None:
                continue  # an unknown column is reported by check_policy
            try:
                for value in cond.value if isinstance(cond.value, list) else [cond.value]:
                    coerce(value, kind)
            except ValueError:
                problems.append(
                    f"purpose {rule.purpose}: a row scope value for {cond.column}"
                    f" is not a valid {kind}"
                )
    return problems


def _check_policy(
    ctx: CatalogContext, body_columns: list[dict[str, Any]], policy: UsagePolicy
) -> None:
    types = {c["name"]: c["type"] for c in body_columns}
    problems = (
        _check_treatments(policy)
        + _check_scope_values(policy, types)
        + check_policy(
            policy,
            [c["name"] for c in body_columns],
            {c["name"]: c["classification"] for c in body_columns},
            ctx.access.hierarchy,
        )
    )
    if problems:
        raise InvalidRequest("; ".join(problems))


def register_dataset(
    session: Session, ctx: CatalogContext, principal: AuthPrincipal, body: DatasetCreate
) -> DatasetOut:
    require_caller("dataset.register", principal)
    repo = CatalogRepository(session)
    source = repo.source_by_name(body.source)
    if source is None:
        raise NotFound("no such source")
    require("dataset.register", principal, Resource(owner=source.owner))
    refuse_retired(source)
    if repo.dataset_by_name(body.name) is not None:
        raise Conflict("a dataset with this name exists")
    url = decrypt_url(ctx.keyring, source.name, source.url_ciphertext, source.key_version)
    engine = source_engine(ctx, source)
    failure = connect_failure(engine, ctx.settings.statement_timeout_seconds)
    if failure is not None:  # the registered source stopped answering: say why
        raise SourceError(failure.detail, reason=failure.code)
    database = None if source.dialect == "sqlite" else make_url(url).database
    vet_table_location(engine, source.dialect, database, body.table)
    stored = table_columns(engine, body.table)
    if stored is None:
        raise InvalidRequest("the table does not exist in the source")
    _check_columns(body, stored)
    columns = [{**c.model_dump(), "storage": stored[c.name]} for c in body.columns]
    _check_policy(ctx, columns, body.policy)
    document = body.policy.model_dump(mode="json")
    version = policy_version(body.policy)
    dataset = Dataset(
        id=new_id("ds"),
        name=body.name,
        owner=principal.domain,
        source_id=source.id,
        table_name=body.table,
        description=body.description,
        privacy_unit=body.privacy_unit,
        resident_id=body.resident_id,
        columns=columns,
        policy=document,
        policy_version=version,
    )
    repo.add(dataset)
    repo.add(PolicyVersion(dataset_id=dataset.id, version=version, document=document))
    rebuild_policy_rules(session)
    record_in(
        session, ctx, "dataset.registered", principal, dataset=dataset.id, policy_version=version
    )
    out = dataset_out(dataset, principal)
    out.pii_findings = scan_findings(ctx, dataset, source)
    return out


def scan_findings(ctx: CatalogContext, dataset: Dataset, source: Source) -> list[ColumnFindingOut]:
    findings = scan_dataset(
        source_engine(ctx, source), DatasetView.of(dataset), ctx.settings.statement_timeout_seconds
    )
    return [ColumnFindingOut.model_validate(f, from_attributes=True) for f in findings]


def scan_registered(
    session: Session, ctx: CatalogContext, principal: AuthPrincipal, dataset_id: str
) -> list[ColumnFindingOut]:
    require_caller("dataset.scan", principal)
    repo = CatalogRepository(session)
    dataset = repo.dataset(dataset_id)
    source = repo.source(dataset.source_id) if dataset is not None else None
    if dataset is None or source is None:
        raise NotFound("no such dataset")
    require("dataset.scan", principal, Resource(owner=dataset.owner))
    return scan_findings(ctx, dataset, source)


def update_policy(
    session: Session,
    ctx: CatalogContext,
    principal: AuthPrincipal,
    dataset_id: str,
    policy: UsagePolicy,
) -> DatasetOut:
    require_caller("policy.replace", principal)
    repo = CatalogRepository(session)
    dataset = repo.dataset(dataset_id)
    if dataset is None:
        raise NotFound("no such dataset")
    require("policy.replace", principal, Resource(owner=dataset.owner))
    refuse_retired(dataset)
    _check_policy(ctx, dataset.columns, policy)
    version = policy_version(policy)
    document = policy.model_dump(mode="json")
    if not repo.has_policy_version(dataset.id, version):
        repo.add(PolicyVersion(dataset_id=dataset.id, version=version, document=document))
    dataset.policy = document
    dataset.policy_version = version
    dataset.updated_at = utcnow()
    session.flush()
    rebuild_policy_rules(session)
    record_in(
        session, ctx, "policy.replaced", principal, dataset=dataset.id, policy_version=version
    )
    return dataset_out(dataset, principal)


_PARSED: dict[str, UsagePolicy] = {}  # by policy version (a hash of the document)
_PARSED_LIMIT = 4096


def dataset_policy(dataset: Dataset) -> UsagePolicy:
    """The dataset's policy document, validated once per version (every run needs it).

    The version is the SHA-256 of the canonical document, so a cached parse can never
    belong to another document; UsagePolicy is frozen, so sharing it is safe.
    """
    parsed = _PARSED.get(dataset.policy_version)
    if parsed is None:
        parsed = UsagePolicy.model_validate(dataset.policy)
        if len(_PARSED) < _PARSED_LIMIT:
            _PARSED[dataset.policy_version] = parsed
    return parsed


def vet_policy(ctx: CatalogContext, dataset: Dataset, policy: UsagePolicy) -> None:
    """The checks a replacement document passes (a 422 naming every problem)."""
    _check_policy(ctx, dataset.columns, policy)


def _offered_rules(policy: UsagePolicy, principal: AuthPrincipal) -> list[PurposeRule]:
    if principal.kind != "app":
        return list(policy.purposes)
    return [
        r
        for r in policy.purposes
        if any(
            g.role == principal.role and ("*" in g.domains or principal.domain in g.domains)
            for g in r.grantees
        )
    ]


def purpose_out(rule: PurposeRule, epsilon_left: float | None = None) -> PurposeOut:
    """A purpose's release terms as the catalogue shows them."""
    dp = rule.dp
    return PurposeOut(
        purpose=rule.purpose,
        legal_basis=rule.legal_basis,
        access=rule.access,
        approval=rule.approval,
        columns={name: column.treatment for name, column in rule.columns.items()},
        row_scope=[
            ScopeOut(column=c.column, op=c.op, value=c.value, principal=c.principal)
            for c in rule.row_scope
        ],
        min_group_size=rule.min_group_size,
        k_anonymity=rule.k_anonymity,
        max_rows=rule.max_rows,
        max_runs_per_day=rule.max_runs_per_day,
        dp=None
        if dp is None
        else PrivacyBudgetOut(
            epsilon_per_run=dp.epsilon_per_run,
            epsilon_per_window=dp.epsilon_per_window,
            window=dp.window,
            epsilon_lifetime=dp.epsilon_lifetime,
            epsilon_dataset=dp.epsilon_dataset,
            epsilon_left=epsilon_left,
        ),
    )


# What an app may still spend on a dataset (ε), from the budget ledger. Handed in by the
# route (gateway/api/dependencies.py): the budget imports the catalog, not the reverse.
EpsilonLeft = Callable[[Session, str, Dataset], float]


def _offers(
    dataset: Dataset,
    policy: UsagePolicy,
    principal: AuthPrincipal,
    left: tuple[Session, EpsilonLeft] | None = None,
) -> list[PurposeOut]:
    rules = _offered_rules(policy, principal)
    remaining = None
    if left is not None and principal.kind == "app" and any(r.dp for r in rules):
        # Every DP purpose of a dataset charges the app's one ledger on it.
        session, lookup = left
        remaining = lookup(session, principal.id, dataset)
    return [purpose_out(r, remaining) for r in rules]


def dataset_out(
    dataset: Dataset,
    principal: AuthPrincipal,
    left: tuple[Session, EpsilonLeft] | None = None,
) -> DatasetOut:
    policy = dataset_policy(dataset)
    owner_view = allowed("policy.read", principal, Resource(owner=dataset.owner))
    return DatasetOut(
        id=dataset.id,
        name=dataset.name,
        owner=dataset.owner,
        description=dataset.description,
        privacy_unit=dataset.privacy_unit,
        resident_id=dataset.resident_id,
        columns=[ColumnOut.model_validate(c) for c in dataset.columns],
        policy_version=dataset.policy_version,
        retention=policy.retention,
        purposes=_offers(dataset, policy, principal, left),
        policy=policy if owner_view else None,
        created_at=dataset.created_at,
        updated_at=dataset.updated_at,
        retired_at=dataset.retired_at,
        retired_by=dataset.retired_by,
        retire_reason=dataset.retire_reason,
    )


def dataset_resource(dataset: Dataset, principal: AuthPrincipal) -> Resource:
    """The facts the permission rules need about a dataset, seen from ``principal``."""
    # A retired dataset offers nothing: apps no longer see it or file requests on it.
    live = dataset.retired_at is None
    offered = live and bool(_offered_rules(dataset_policy(dataset), principal))
    return Resource(owner=dataset.owner, offered=offered)


def visible_to(dataset: Dataset, principal: AuthPrincipal) -> bool:
    """Apps see datasets offering them a purpose; departments their own; auditors all."""
    return allowed("dataset.read", principal, dataset_resource(dataset, principal))


def list_purposes(ctx: CatalogContext, principal: AuthPrincipal) -> list[PurposeNodeOut]:
    """The purpose hierarchy in path order (parents before their children)."""
    require("purpose.list", principal)
    return [
        PurposeNodeOut(
            purpose=node.path,
            zh=node.zh,
            en=node.en,
            parent=node.path.rpartition(".")[0] or None,
            depth=node.path.count("."),
        )
        for node in sorted(ctx.access.hierarchy.nodes.values(), key=lambda n: n.path)
    ]


def list_datasets(
    session: Session, principal: AuthPrincipal, left: EpsilonLeft | None = None
) -> list[DatasetOut]:
    require("dataset.list", principal)
    return [
        dataset_out(d, principal, None if left is None else (session, left))
        for d in CatalogRepository(session).datasets(live=True)
        if visible_to(d, principal)
    ]


def get_dataset(session: Session, principal: AuthPrincipal, dataset_id: str) -> Dataset:
    dataset = CatalogRepository(session).dataset(dataset_id)
    if dataset is None or not visible_to(dataset, principal):
        raise NotFound("no such dataset")
    return dataset
