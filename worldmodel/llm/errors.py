"""Typed errors of the LLM client. Every message names the server URL it concerns."""

from __future__ import annotations


class LLMError(RuntimeError):
    """Base class of the client's errors."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class ServerUnreachable(LLMError):
    """No answer from the server (connection refused, DNS, timeout) after all retries."""


class ServerError(LLMError):
    """The server answered with an error status after all retries (5xx, 429)."""

    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


class RequestRejected(LLMError):
    """The server refused the request as invalid (4xx): retrying would not help."""

    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


class ContextLengthExceeded(RequestRejected):
    """The prompt plus max_tokens does not fit in the model's context window."""


class MalformedResponse(LLMError):
    """The server's answer is not the OpenAI-compatible JSON the client expects."""
