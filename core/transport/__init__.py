"""Upstream transport: OpenIM HTTP API (httpx) and message gateway (websockets)."""
