"""``GatewayClient``: the gateway's HTTP API as typed Python calls (httpx, synchronous).

    with GatewayClient("http://127.0.0.1:8000", api_key) as gw:
        for request in gw.requests(status="pending"):
            gw.approve(request.id, max_runs=10)

Responses are the server's own pydantic models (gateway.client.models); every failure is a
:class:`GatewayAPIError`; 429 and 503 answers are retried as :class:`RetryPolicy` says;
paged lists come as iterators (``iter_entries``, ``iter_accesses``) and the audit export as
a stream of bytes that is never held in memory whole.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from gateway.client.errors import (
    BAD_RESPONSE,
    CONNECTION_FAILED,
    INVALID_ARGUMENT,
    TIMED_OUT,
    GatewayAPIError,
)
from gateway.client.models import (
    AuditEntryOut,
    BudgetOut,
    CheckpointOut,
    ColumnFindingOut,
    ConsistencyProofOut,
    DatasetCreate,
    DatasetOut,
    DatasetRetirementOut,
    DeliveryOut,
    ExplainOut,
    InclusionProofOut,
    KeyIssuedOut,
    KeysExpiredOut,
    PolicyPreviewOut,
    PrincipalOut,
    PurposeNodeOut,
    QueryRequestOut,
    ResidentLinkIssued,
    ResidentLinkOut,
    ReverseOut,
    RunResult,
    SourceOut,
    SourceRetirementOut,
    SubjectAccess,
    SubjectRefOut,
    SummaryRow,
    UsagePolicy,
    VerifyOut,
    WebhookCreated,
    WebhookOut,
)
from gateway.client.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after

M = TypeVar("M", bound=BaseModel)
Params = Mapping[str, Any]
Body = BaseModel | Mapping[str, Any]
Decision = Literal["allowed", "denied", "none"]
ExportFormat = Literal["jsonl", "csv"]

DEFAULT_URL = "http://127.0.0.1:8000"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("community-data-gateway")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0"


def _body(value: Body | None) -> Any:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dict(value)


def _query(params: Params | None) -> dict[str, str | int]:
    """Query parameters without the unset ones; instants as RFC 3339 (they need a zone)."""
    out: dict[str, str | int] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = value
    return out


def _without_credentials(url: str) -> str:
    """``url`` as messages may show it: user info dropped; refused when it cannot be parsed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise GatewayAPIError(
            None, INVALID_ARGUMENT, "the gateway URL cannot be parsed (e.g. http://127.0.0.1:8000)"
        ) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise GatewayAPIError(
            None, INVALID_ARGUMENT, "the gateway URL must be http:// or https:// with a host"
        )
    return str(parsed.copy_with(username=None, password=None)).rstrip("/")


class GatewayClient:
    """A connection to one gateway, acting as the principal whose API key it holds."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        verify: bool | str = True,
    ) -> None:
        """``verify``: TLS certificate checking for an https URL: True (the system's CAs),
        a CA bundle file (an intranet's own CA), or False (never in production)."""
        headers = {"User-Agent": f"cdg-client/{_version()}", "Accept": "application/json"}
        if api_key:
            if not (api_key.isascii() and api_key.isprintable()) or " " in api_key:
                # Never echoed: it may be a real key with a typo.
                raise GatewayAPIError(
                    None, INVALID_ARGUMENT, "the API key has characters an API key never has"
                )
            headers["Authorization"] = f"Bearer {api_key}"
        self.base_url = url.rstrip("/")
        # What messages show: the URL without any user name or password in it.
        self.shown_url = _without_credentials(self.base_url)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            verify=verify,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kw: Any) -> GatewayClient:
        """A client for ``CDG_URL`` (default http://127.0.0.1:8000) with ``CDG_API_KEY``."""
        env = os.environ if environ is None else environ
        return cls(env.get("CDG_URL") or DEFAULT_URL, env.get("CDG_API_KEY") or None, **kw)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the transport: retries and the error shape -------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Body | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One request, retried on 429/503 and on connections never opened; errors raised."""
        request = self._http.build_request(method, path, params=_query(params), json=_body(body))
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                wait = self.retry.delay(attempt, None)
                if wait is None:
                    raise GatewayAPIError(
                        None, CONNECTION_FAILED, f"cannot connect to {self.shown_url}: {exc}"
                    ) from None
                self._sleep(wait)
                continue
            except httpx.TimeoutException:
                raise GatewayAPIError(
                    None, TIMED_OUT, f"{self.shown_url} did not answer {method} {path} in time"
                ) from None
            except httpx.TransportError as exc:
                raise GatewayAPIError(
                    None, CONNECTION_FAILED, f"the connection to {self.shown_url} failed: {exc}"
                ) from None
            if response.status_code < 400:
                return response
            if stream:
                response.read()
                response.close()
            error = _error_of(response)
            if response.status_code in RETRY_STATUSES:
                wait = self.retry.delay(attempt, error.retry_after)
                if wait is not None:
                    self._sleep(wait)
                    continue
            raise error

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = self._send(method, path, **kw)
        try:
            return response.json()
        except ValueError:
            raise GatewayAPIError(
                response.status_code,
                BAD_RESPONSE,
                "the answer is not JSON",
                response.headers.get("x-request-id", ""),
            ) from None

    def _one(self, model: type[M], method: str, path: str, **kw: Any) -> M:
        parsed: M = _parse(TypeAdapter(model), self._json(method, path, **kw))
        return parsed

    def _many(self, model: type[M], method: str, path: str, **kw: Any) -> list[M]:
        adapter: TypeAdapter[list[M]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        parsed: list[M] = _parse(adapter, self._json(method, path, **kw))
        return parsed

    # -- principals ---------------------------------------------------------------------

    def me(self) -> PrincipalOut:
        """The principal this client's API key belongs to."""
        return self._one(PrincipalOut, "GET", "/v1/principals/me")

    def rotate_key(self, expires_at: datetime | None = None) -> KeyIssuedOut:
        """A new API key for the caller (shown once); earlier keys work for a grace period.

        This client keeps using the key it was made with: make a new client with the new key.
        """
        body = {"expires_at": expires_at.isoformat() if expires_at else None}
        return self._one(KeyIssuedOut, "POST", "/v1/principals/me/rotate-key", body=body)

    def reissue_key(self, principal: str, expires_at: datetime | None = None) -> KeyIssuedOut:
        """A new API key for a principal (its department); its earlier keys stop now."""
        body = {"expires_at": expires_at.isoformat() if expires_at else None}
        path = f"/v1/principals/{_seg(principal)}/reissue-key"
        return self._one(KeyIssuedOut, "POST", path, body=body)

    def expire_keys(self, principal: str) -> KeysExpiredOut:
        """Every working API key of a principal stops now (its department, or the app itself)."""
        path = f"/v1/principals/{_seg(principal)}/expire-keys"
        return self._one(KeysExpiredOut, "POST", path)

    # -- catalog ------------------------------------------------------------------------

    def purposes(self) -> list[PurposeNodeOut]:
        """The purpose hierarchy (用途层级) with Chinese and English names."""
        return self._many(PurposeNodeOut, "GET", "/v1/purposes")

    def sources(self) -> list[SourceOut]:
        """The calling department's sources."""
        return self._many(SourceOut, "GET", "/v1/sources")

    def add_source(self, name: str, url: str) -> SourceOut:
        """Register a department database (the URL is stored encrypted, never returned)."""
        return self._one(SourceOut, "POST", "/v1/sources", body={"name": name, "url": url})

    def retire_source(self, source_id: str, reason: str) -> SourceRetirementOut:
        """Retire a source and its datasets; their approved queries are revoked (owner)."""
        path = f"/v1/sources/{_seg(source_id)}/retire"
        return self._one(SourceRetirementOut, "POST", path, body={"reason": reason})

    def datasets(self) -> list[DatasetOut]:
        """The catalog the caller may see."""
        return self._many(DatasetOut, "GET", "/v1/datasets")

    def dataset(self, dataset_id: str) -> DatasetOut:
        return self._one(DatasetOut, "GET", f"/v1/datasets/{_seg(dataset_id)}")

    def register_dataset(self, dataset: DatasetCreate | Mapping[str, Any]) -> DatasetOut:
        """Register a dataset with its usage policy on a source the caller registered."""
        return self._one(DatasetOut, "POST", "/v1/datasets", body=dataset)

    def replace_policy(
        self, dataset_id: str, policy: UsagePolicy | Mapping[str, Any]
    ) -> DatasetOut:
        """Replace a dataset's usage policy (the owning department)."""
        body = {"policy": _body(policy)}
        return self._one(DatasetOut, "PUT", f"/v1/datasets/{_seg(dataset_id)}/policy", body=body)

    def preview_policy(
        self, dataset_id: str, policy: UsagePolicy | Mapping[str, Any]
    ) -> PolicyPreviewOut:
        """What replacing the policy would do (the diff, the queries it breaks); changes nothing."""
        body = {"policy": _body(policy)}
        path = f"/v1/datasets/{_seg(dataset_id)}/policy/preview"
        return self._one(PolicyPreviewOut, "POST", path, body=body)

    def retire_dataset(self, dataset_id: str, reason: str) -> DatasetRetirementOut:
        """Retire a dataset; its approved queries are revoked with the reason (owner)."""
        path = f"/v1/datasets/{_seg(dataset_id)}/retire"
        return self._one(DatasetRetirementOut, "POST", path, body={"reason": reason})

    def scan_dataset(self, dataset_id: str) -> list[ColumnFindingOut]:
        """Sample a dataset for unlabelled PII (the owning department)."""
        return self._many(ColumnFindingOut, "GET", f"/v1/datasets/{_seg(dataset_id)}/scan")

    # -- query requests and runs --------------------------------------------------------

    def requests(self, status: str | None = None, limit: int = 100) -> list[QueryRequestOut]:
        """Requests the caller filed (apps) or must decide (departments)."""
        params = {"status": status, "limit": limit}
        return self._many(QueryRequestOut, "GET", "/v1/query-requests", params=params)

    def request(self, request_id: str) -> QueryRequestOut:
        return self._one(QueryRequestOut, "GET", f"/v1/query-requests/{_seg(request_id)}")

    def file_request(
        self,
        dataset: str,
        purpose: str,
        justification: str,
        spec: BaseModel | Mapping[str, Any],
        example_params: Mapping[str, Any] | None = None,
    ) -> QueryRequestOut:
        """File a query request for a declared purpose (apps)."""
        body = {
            "dataset": dataset,
            "purpose": purpose,
            "justification": justification,
            "spec": _body(spec),
            "example_params": dict(example_params or {}),
        }
        return self._one(QueryRequestOut, "POST", "/v1/query-requests", body=body)

    def approve(
        self,
        request_id: str,
        *,
        expires_at: datetime | None = None,
        max_runs: int | None = None,
        row_cap: int | None = None,
        note: str = "",
    ) -> QueryRequestOut:
        """Approve a pending request, optionally narrowing it (departments)."""
        body: dict[str, Any] = {"note": note}
        if expires_at is not None:
            body["expires_at"] = expires_at.isoformat()
        if max_runs is not None:
            body["max_runs"] = max_runs
        if row_cap is not None:
            body["row_cap"] = row_cap
        path = f"/v1/query-requests/{_seg(request_id)}/approve"
        return self._one(QueryRequestOut, "POST", path, body=body)

    def reject(self, request_id: str, reason: str) -> QueryRequestOut:
        path = f"/v1/query-requests/{_seg(request_id)}/reject"
        return self._one(QueryRequestOut, "POST", path, body={"reason": reason})

    def revoke(self, request_id: str, reason: str) -> QueryRequestOut:
        """Revoke an approved query: it runs no more (departments)."""
        path = f"/v1/query-requests/{_seg(request_id)}/revoke"
        return self._one(QueryRequestOut, "POST", path, body={"reason": reason})

    def run(self, query_id: str, params: Mapping[str, Any] | None = None) -> RunResult:
        """Run an approved query with parameter values (apps); the answer carries a receipt."""
        body = {"params": dict(params or {})}
        return self._one(RunResult, "POST", f"/v1/queries/{_seg(query_id)}/run", body=body)

    def budgets(self) -> list[BudgetOut]:
        return self._many(BudgetOut, "GET", "/v1/budgets")

    def explain(
        self,
        dataset: str,
        purpose: str,
        spec: BaseModel | Mapping[str, Any],
        app: str | None = None,
    ) -> ExplainOut:
        """Which rule would allow or deny a request (runs nothing)."""
        body: dict[str, Any] = {"dataset": dataset, "purpose": purpose, "spec": _body(spec)}
        if app is not None:
            body["app"] = app
        return self._one(ExplainOut, "POST", "/v1/decisions/explain", body=body)

    def reverse_token(self, request: BaseModel | Mapping[str, Any]) -> ReverseOut:
        """Reverse a token of the caller's own dataset (departments; logged)."""
        return self._one(ReverseOut, "POST", "/v1/tokens/reverse", body=request)

    # -- the access log -----------------------------------------------------------------

    def entries(
        self,
        *,
        after: int | None = None,
        limit: int = 100,
        dataset: str | None = None,
        app: str | None = None,
        event: str | None = None,
        decision: Decision | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEntryOut]:
        """One page of access-log entries the caller may see, oldest first."""
        params = {
            "after": after, "limit": limit, "dataset": dataset, "app": app, "event": event,
            "decision": decision, "since": since, "until": until,
        }  # fmt: skip
        return self._many(AuditEntryOut, "GET", "/v1/audit/entries", params=params)

    def iter_entries(self, *, page_size: int = 500, **filters: Any) -> Iterator[AuditEntryOut]:
        """Every matching entry, fetched a page at a time (``after`` = last index seen)."""
        after = filters.pop("after", None)
        while True:
            page = self.entries(after=after, limit=page_size, **filters)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].index

    def checkpoint(self) -> CheckpointOut:
        """The newest signed checkpoint and the log's verifier keys."""
        return self._one(CheckpointOut, "GET", "/v1/audit/checkpoint")

    def sign_checkpoint(self) -> CheckpointOut:
        """Sign and store a checkpoint now (auditors)."""
        return self._one(CheckpointOut, "POST", "/v1/audit/checkpoint")

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProofOut:
        params = {"index": index, "tree_size": tree_size}
        return self._one(InclusionProofOut, "GET", "/v1/audit/proofs/inclusion", params=params)

    def consistency_proof(self, old_size: int, new_size: int) -> ConsistencyProofOut:
        params = {"old_size": old_size, "new_size": new_size}
        return self._one(ConsistencyProofOut, "GET", "/v1/audit/proofs/consistency", params=params)

    def summary(self, by: Literal["dataset", "app"] = "dataset") -> list[SummaryRow]:
        return self._many(SummaryRow, "GET", "/v1/audit/summary", params={"by": by})

    def verify(self) -> VerifyOut:
        """Verify the whole stored log now, as ``cdg audit verify`` does (auditors)."""
        return self._one(VerifyOut, "GET", "/v1/audit/verify")

    def published_keys(self) -> list[str]:
        """The log's verifier keys, as published at /.well-known/cdg-audit-keys (no key needed)."""
        text = self._send("GET", "/.well-known/cdg-audit-keys").text
        return [line for line in text.splitlines() if line.strip()]

    def export(
        self,
        *,
        format: ExportFormat = "jsonl",
        dataset: str | None = None,
        app: str | None = None,
        event: str | None = None,
        decision: Decision | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[bytes]:
        """The export (entries with inclusion proofs to a fresh checkpoint), streamed in chunks.

        The request is sent when iteration starts; an error before the first byte raises
        ``GatewayAPIError``. A stream cut short raises it too, so a partial file is never
        taken for a whole one.
        """
        params = {
            "format": format, "dataset": dataset, "app": app, "event": event,
            "decision": decision, "since": since, "until": until,
        }  # fmt: skip
        response = self._send("GET", "/v1/audit/export", params=params, stream=True)
        try:
            yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise GatewayAPIError(
                response.status_code,
                CONNECTION_FAILED,
                f"the export stream broke: {exc}",
                response.headers.get("x-request-id", ""),
            ) from None
        finally:
            response.close()

    def export_to(self, path: Path, **kw: Any) -> int:
        """Stream the export into ``path``; returns the bytes written."""
        written = 0
        with path.open("wb") as handle:
            for chunk in self.export(**kw):
                handle.write(chunk)
                written += len(chunk)
        return written

    # -- residents ----------------------------------------------------------------------

    def subject_ref(self, id_number: str) -> SubjectRefOut:
        """A resident's SubjectRef from an ID number (departments, auditors; logged)."""
        body = {"id_number": id_number}
        return self._one(SubjectRefOut, "POST", "/v1/subjects/lookup", body=body)

    def accesses(
        self,
        subject_ref: str,
        *,
        since: datetime | None = None,
        after: int | None = None,
        limit: int = 200,
    ) -> list[SubjectAccess]:
        """One page of who received rows about a resident."""
        params = {"since": since, "after": after, "limit": limit}
        path = f"/v1/subjects/{_seg(subject_ref)}/accesses"
        return self._many(SubjectAccess, "GET", path, params=params)

    def iter_accesses(
        self, subject_ref: str, *, since: datetime | None = None, page_size: int = 200
    ) -> Iterator[SubjectAccess]:
        after: int | None = None
        while True:
            page = self.accesses(subject_ref, since=since, after=after, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].index

    def issue_link(self, id_number: str, expires_in_hours: int | None = None) -> ResidentLinkIssued:
        """A one-time, expiring link for a resident to read their access history (departments).

        Without ``expires_in_hours`` the gateway's ``CDG_RESIDENT_LINK_HOURS`` applies.
        """
        body: dict[str, object] = {"id_number": id_number}
        if expires_in_hours is not None:
            body["expires_in_hours"] = expires_in_hours
        return self._one(ResidentLinkIssued, "POST", "/v1/subjects/links", body=body)

    def links(self) -> list[ResidentLinkOut]:
        """Resident links the caller's department issued."""
        return self._many(ResidentLinkOut, "GET", "/v1/subjects/links")

    def revoke_link(self, link_id: str) -> ResidentLinkOut:
        path = f"/v1/subjects/links/{_seg(link_id)}/revoke"
        return self._one(ResidentLinkOut, "POST", path)

    # -- webhooks and operations --------------------------------------------------------

    def webhooks(self) -> list[WebhookOut]:
        """The caller's webhook endpoints (never their secrets)."""
        return self._many(WebhookOut, "GET", "/v1/webhooks")

    def add_webhook(self, url: str) -> WebhookCreated:
        """Register an endpoint; the answer holds its signing secret, shown once."""
        return self._one(WebhookCreated, "POST", "/v1/webhooks", body={"url": url})

    def delete_webhook(self, webhook_id: str) -> None:
        self._send("DELETE", f"/v1/webhooks/{_seg(webhook_id)}")

    def deliveries(self, webhook_id: str, limit: int = 100) -> list[DeliveryOut]:
        """Delivery attempts to one endpoint, newest first."""
        path = f"/v1/webhooks/{_seg(webhook_id)}/deliveries"
        return self._many(DeliveryOut, "GET", path, params={"limit": limit})

    def health(self) -> dict[str, Any]:
        """``/healthz``: the gateway answers and reaches its store (no key needed)."""
        data: dict[str, Any] = self._json("GET", "/healthz")
        return data


def _seg(value: str) -> str:
    """One path segment: an id with '/' or '?' in it must not reach another route."""
    from urllib.parse import quote

    return quote(value, safe="")


T = TypeVar("T")


def _parse(adapter: TypeAdapter[T], data: Any) -> T:
    try:
        return adapter.validate_python(data)
    except ValidationError:
        raise GatewayAPIError(
            None, BAD_RESPONSE, "the answer does not match the documented schema"
        ) from None


def _error_of(response: httpx.Response) -> GatewayAPIError:
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    rid = response.headers.get("x-request-id", "")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return GatewayAPIError(
            response.status_code,
            body["error"],
            str(body.get("detail", "")),
            str(body.get("request_id") or rid),
            body.get("reason") if isinstance(body.get("reason"), str) else None,
            retry_after,
        )
    return GatewayAPIError(
        response.status_code,
        BAD_RESPONSE,
        f"HTTP {response.status_code} without the gateway's error body",
        rid,
        None,
        retry_after,
    )
