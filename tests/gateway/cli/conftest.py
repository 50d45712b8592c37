"""The CLI's remote commands run against the same live gateway as the client's tests."""

from tests.gateway.client.conftest import live

__all__ = ["live"]
