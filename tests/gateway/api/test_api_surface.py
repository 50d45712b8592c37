"""The HTTP surface: documented endpoints, health, metrics, request ids, the error shape."""

from __future__ import annotations

from tests.conftest import Gateway

DOCUMENTED = {
    ("post", "/v1/sources"),
    ("get", "/v1/sources"),
    ("post", "/v1/datasets"),
    ("get", "/v1/datasets"),
    ("get", "/v1/datasets/{dataset_id}"),
    ("get", "/v1/datasets/{dataset_id}/scan"),
    ("put", "/v1/datasets/{dataset_id}/policy"),
    ("post", "/v1/datasets/{dataset_id}/policy/preview"),
    ("post", "/v1/datasets/{dataset_id}/retire"),
    ("post", "/v1/sources/{source_id}/retire"),
    ("get", "/v1/purposes"),
    ("post", "/v1/principals/me/rotate-key"),
    ("post", "/v1/principals/{principal}/reissue-key"),
    ("post", "/v1/principals/{principal}/expire-keys"),
    ("post", "/v1/query-requests"),
    ("get", "/v1/query-requests"),
    ("get", "/v1/query-requests/{query_request}"),
    ("post", "/v1/query-requests/{query_request}/approve"),
    ("post", "/v1/query-requests/{query_request}/reject"),
    ("post", "/v1/query-requests/{query_request}/revoke"),
    ("post", "/v1/queries/{query_request}/run"),
    ("get", "/v1/audit/entries"),
    ("get", "/v1/principals/me"),
    ("get", "/v1/budgets"),
    ("post", "/v1/decisions/explain"),
    ("post", "/v1/tokens/reverse"),
    ("get", "/v1/audit/checkpoint"),
    ("post", "/v1/audit/checkpoint"),
    ("get", "/v1/audit/proofs/inclusion"),
    ("get", "/v1/audit/proofs/consistency"),
    ("get", "/v1/audit/summary"),
    ("get", "/v1/audit/export"),
    ("post", "/v1/subjects/lookup"),
    ("get", "/v1/subjects/{subject_ref}/accesses"),
    ("post", "/v1/subjects/links"),
    ("get", "/v1/subjects/links"),
    ("post", "/v1/subjects/links/{link_id}/revoke"),
    ("get", "/v1/audit/verify"),
    ("get", "/.well-known/cdg-audit-keys"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("delete", "/v1/webhooks/{webhook_id}"),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"),
    ("get", "/healthz"),
    ("get", "/metrics"),
}


def test_openapi_lists_every_endpoint(gateway: Gateway) -> None:
    spec = gateway.client.get("/openapi.json").json()
    found = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert found == DOCUMENTED
    assert gateway.client.get("/docs").status_code == 200


def test_health_and_metrics(gateway: Gateway) -> None:
    assert gateway.client.get("/healthz").json() == {"status": "ok"}
    series = 'cdg_http_requests_total{method="POST",route="/v1/queries/{query_request}/run",'

    def not_found_runs(text: str) -> float:
        # The counters belong to the process (other tests move them too): compare.
        line = next((x for x in text.splitlines() if x.startswith(series + 'status="404"}')), "")
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    before = not_found_runs(gateway.client.get("/metrics").text)
    gateway.get("heping-committee", "/v1/queries/qr_missing/run")  # 405: GET on a POST route
    gateway.post("heping-committee", "/v1/queries/qr_secret_id/run", {"params": {}})
    text = gateway.client.get("/metrics").text
    assert not_found_runs(text) == before + 1
    assert "qr_secret_id" not in text  # route templates, never raw ids


def test_every_response_has_a_request_id_and_errors_have_one_shape(gateway: Gateway) -> None:
    ok = gateway.get("heping-committee", "/v1/principals/me")
    assert len(ok.headers["x-request-id"]) == 32
    for response in (
        gateway.client.get("/v1/datasets"),  # no key
        gateway.client.get("/v1/datasets", headers={"Authorization": "Bearer cdg_wrong"}),
        gateway.get("heping-committee", "/v1/nowhere"),
        gateway.client.delete("/v1/datasets", headers=gateway.auth("heping-committee")),
    ):
        body = response.json()
        assert set(body) == {"error", "detail", "request_id"}, body
        assert body["request_id"] == response.headers["x-request-id"]
        assert response.status_code in (401, 404, 405)
