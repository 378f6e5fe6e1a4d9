"""The MCP SDK's ``TokenStorage`` protocol, in memory: what its OAuth providers read
and write (tokens, the client's registration), shared by the SDK interop tests."""

from __future__ import annotations

from typing import Any


class MemoryStorage:
    def __init__(self, client_info: Any = None) -> None:
        self.tokens: Any = None
        self.client_info = client_info
        #: Every token response the SDK stored, in order.
        self.saved: list[Any] = []

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens
        self.saved.append(tokens)

    async def get_client_info(self) -> Any:
        return self.client_info

    async def set_client_info(self, client_info: Any) -> None:
        self.client_info = client_info
