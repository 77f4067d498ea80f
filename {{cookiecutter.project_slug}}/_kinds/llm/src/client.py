"""How a prompt reaches a model: the client interface, retries, and the HTTP adapter.

Every client answers ``complete(prompt, params) -> Completion``; ``get_client`` in predict.py
returns the one a configuration names (``Params.provider``):

- ``offline`` (offline.py, the default): a deterministic local stand-in. No network, no key:
  the project runs and its tests pass anywhere.
- ``openai``: any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, LiteLLM,
  ...), over a persistent connection per thread (harness/keepalive.py: no handshake per
  request; a new connection's set-up time is left out of the latency). Configured by the
  environment:

  ``LLM_BASE_URL``     default https://api.openai.com/v1 (``/chat/completions`` is appended)
  ``LLM_API_KEY``      or ``OPENAI_API_KEY``; sent in the Authorization header only. It is
                       never part of a row, an error message or the db: a server echoing it
                       back, as is or encoded (JSON ``\\u`` escapes, URL ``%XX``, HTML
                       ``&#..;``, mixed), gets ``[API key]`` in its place (``mask``), and
                       predict masks every text field of its row the same way.
  ``LLM_TIMEOUT``      seconds per request (default 60)
  ``LLM_MAX_RETRIES``  retries of a transient failure (default 3)
  ``LLM_BACKOFF``      first wait in seconds (default 1), doubled at every retry; a
                       Retry-After header is honoured, all waits capped by ``LLM_MAX_BACKOFF``
                       (default 30)
  ``LLM_JITTER``       each wait is shortened by a random part of up to this fraction
                       (default 0.5), so parallel workers do not retry in lockstep

Transient failures (timeouts, connection errors, HTTP 408/429/5xx) are retried with that
backoff. When the retries run out the error is raised with its retry count: predict records it
as an error row, and error rows are not cached, so the next run tries the datapoint again.
"""

import functools
import http.client
import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .harness import keepalive

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Completion:
    """What one request returned: the text, why it stopped, tokens, the raw body."""

    text: str
    finish_reason: str  # "stop", or "length" when max_tokens cut the answer
    prompt_tokens: int
    completion_tokens: int
    raw_response: str  # the response body exactly as received
    retries: int = 0
    endpoint: str = ""  # where it was sent (no credentials)
    connect_seconds: float = 0.0  # opening connections (not part of the request's latency)


class LLMError(Exception):
    """A failed request. ``retries``: retries made before giving up; ``raw_response``: the
    last response body, if any. Transient errors are retried, the others are not."""

    transient = False

    def __init__(self, message: str, raw_response: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.raw_response = raw_response
        self.retry_after = retry_after
        self.retries = 0


class RateLimited(LLMError):  # HTTP 429
    transient = True


class RequestTimeout(LLMError):  # no answer in time, or HTTP 408
    transient = True


class ServerError(LLMError):  # HTTP 5xx
    transient = True


class ConnectionFailed(LLMError):  # refused, reset, closed mid-answer
    transient = True


class APIError(LLMError):
    """Any other HTTP error (bad request, bad key, unknown model): retrying will not help."""


class BadResponse(LLMError):
    """The endpoint answered with something that is not a chat completion."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff: float = 1.0  # seconds before the first retry, doubled at each one
    max_backoff: float = 30.0
    timeout: float = 60.0  # seconds per request
    jitter: float = 0.5  # each wait is shortened by a random part of up to this fraction

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        return cls(
            max_retries=int(os.environ.get("LLM_MAX_RETRIES", cls.max_retries)),
            backoff=float(os.environ.get("LLM_BACKOFF", cls.backoff)),
            max_backoff=float(os.environ.get("LLM_MAX_BACKOFF", cls.max_backoff)),
            timeout=float(os.environ.get("LLM_TIMEOUT", cls.timeout)),
            jitter=float(os.environ.get("LLM_JITTER", cls.jitter)),
        )

    def wait(self, retry: int, retry_after: float | None = None, rand=random.random) -> float:
        delay = self.backoff * 2**retry * (1 - self.jitter * rand())
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_backoff)


def with_retries(send: Callable, policy: RetryPolicy, sleep: Callable = time.sleep):
    """``(send(), retries)``: call ``send`` again after each transient LLMError, with backoff.

    The last error (or the first non-transient one) is raised with ``retries`` set.
    """
    retries = 0
    while True:
        try:
            return send(), retries
        except LLMError as error:
            if not error.transient or retries >= policy.max_retries:
                error.retries = retries
                raise
            sleep(policy.wait(retries, error.retry_after))
            retries += 1


def public_url(url: str) -> str:
    """``url`` without user:password@ or a query string: safe to record."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


KEY_VARIABLES = ("LLM_API_KEY", "OPENAI_API_KEY")


@functools.cache
def secret_pattern(secret: str) -> re.Pattern:
    """``secret`` in any common text encoding, character by character, mixed freely: as is,
    a JSON escape (``\\u0073``, ``\\/``), URL-encoded (``%73``) or an HTML entity (``&#115;``)."""
    parts = []
    for char in secret:
        code = ord(char)
        options = [re.escape(char), rf"\\u{code:04x}", f"%{code:02x}", f"&#0*{code};"]
        options += [f"&#x0*{code:x};", re.escape("\\" + char)]
        parts.append(f"(?:{'|'.join(options)})")
    return re.compile("".join(parts), re.IGNORECASE)


def mask(text: str, secrets: tuple[str, ...] | None = None) -> str:
    """``text`` with each secret (default: the API keys of the environment) replaced by
    ``[API key]``, in whatever encoding it appears (``secret_pattern``)."""
    if secrets is None:
        secrets = tuple(os.environ.get(name, "") for name in KEY_VARIABLES)
    for secret in secrets:
        if secret:
            text = secret_pattern(secret).sub("[API key]", text)
    return text


class OpenAIClient:
    """An OpenAI-compatible ``POST {base}/chat/completions`` client (one user message)."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, policy=None):
        base = base_url or os.environ.get("LLM_BASE_URL") or DEFAULT_BASE_URL
        self.url = base.rstrip("/") + "/chat/completions"
        self.endpoint = public_url(self.url)
        if api_key is None:
            api_key = os.environ.get("LLM_API_KEY") or os.environ.get("OPENAI_API_KEY", "")
        self._api_key = api_key
        self.policy = policy or RetryPolicy.from_env()

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIClient({self.endpoint!r})"

    def complete(self, prompt: str, params) -> Completion:
        body = json.dumps(
            {
                "model": params.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": params.temperature,
                "max_tokens": params.max_tokens,
            }
        ).encode()
        connects = []  # seconds spent opening connections, per attempt
        raw, retries = with_retries(lambda: self._post(body, connects), self.policy)
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            usage = data.get("usage") or {}
            return Completion(
                text=choice["message"].get("content") or "",
                finish_reason=choice.get("finish_reason") or "",
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                raw_response=raw,
                retries=retries,
                endpoint=self.endpoint,
                connect_seconds=sum(connects),
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            failure = BadResponse(f"not a chat completion ({error!r})", raw)
            failure.retries = retries
            raise failure from None

    def _mask(self, text: str) -> str:
        return mask(text, (self._api_key,))

    def _post(self, body: bytes, connects: list) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        timeout = self.policy.timeout
        try:
            answer = keepalive.post(self.url, body, headers, timeout, use_proxy=True)
        except TimeoutError:
            raise RequestTimeout(f"no answer from {self.endpoint} within {timeout:g} s") from None
        except (OSError, http.client.HTTPException) as error:
            message = f"cannot reach {self.endpoint}: {type(error).__name__}: {error}"
            raise ConnectionFailed(self._mask(message)) from None
        connects.append(answer.connect_seconds)
        text = self._mask(answer.body.decode("utf-8", "replace"))
        if answer.status < 400:
            return text
        raw, message = text[:4000], f"HTTP {answer.status} from {self.endpoint}"
        if answer.status == 429:
            raise RateLimited(message, raw, retry_after(answer.headers))
        if answer.status == 408:
            raise RequestTimeout(message, raw)
        if answer.status >= 500:
            raise ServerError(message, raw, retry_after(answer.headers))
        raise APIError(message, raw)


def retry_after(headers) -> float | None:
    """Seconds of a Retry-After header (the delta form), if any."""
    try:
        return float(headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None
