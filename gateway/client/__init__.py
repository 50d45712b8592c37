"""A Python client of the gateway's HTTP API (see docs/client.md)."""

from gateway.client.client import DEFAULT_URL, GatewayClient
from gateway.client.errors import GatewayAPIError
from gateway.client.retry import NO_RETRY, RetryPolicy

__all__ = ["DEFAULT_URL", "NO_RETRY", "GatewayAPIError", "GatewayClient", "RetryPolicy"]
