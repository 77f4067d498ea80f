"""What a request reaches: the target interface, the local stand-in service, the HTTP adapter.

A target is a function ``send(payload, params) -> Response`` that raises ``TargetError`` (with
the HTTP status when there is one) for a failed request. ``get_target(params.target)`` returns
the one a configuration names:

- ``local`` (the default): ``local_service``, a stand-in service inside this process. Each
  request waits ``params.sleep_ms`` (its I/O: a database, another service), then computes
  ``params.cpu_rounds`` rounds of SHA-256 over the payload (its CPU work) and answers with
  the digest, deterministically. Replace it with the function you want to load-test.
- ``http``: POSTs the payload to ``params.url``, waiting at most ``params.timeout`` seconds.
  No retries (a load test counts failures, it does not hide them). Each worker thread keeps
  its connection open (harness/keepalive.py), as a real client would: the time to open one is
  ``Response.connect_seconds``, left out of the latency. Environment proxies are not used (a
  proxy in between would be measured too).
"""

import hashlib
import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .harness import keepalive

CONTENT_TYPE = "application/json"  # the bundled payloads are JSON documents
MAX_ERROR_BODY = 4096  # bytes of an error answer kept


@dataclass(frozen=True)
class Response:
    status: int  # HTTP status (the local service answers 200)
    body: bytes
    connect_seconds: float = 0.0  # opening a connection (not part of the request's latency)


class TargetError(Exception):
    """A failed request: ``status`` is the HTTP status if the target answered."""

    def __init__(self, message: str, status: int | None = None, body: bytes = b""):
        super().__init__(message)
        self.status, self.body = status, body


class HTTPStatusError(TargetError):  # an answer with status 4xx/5xx
    pass


class Timeout(TargetError):  # no answer within params.timeout
    pass


class ConnectionFailed(TargetError):  # refused, reset, closed mid-answer
    pass


def public_url(url: str) -> str:
    """``url`` without user:password@ or a query string: safe to record."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def local_service(payload: str, params) -> Response:
    """The default target: waits ``sleep_ms``, then ``cpu_rounds`` rounds of SHA-256."""
    time.sleep(params.sleep_ms / 1000)
    digest = payload.encode()
    for _ in range(params.cpu_rounds):
        digest = hashlib.sha256(digest).digest()
    body = json.dumps({"digest": digest.hex()[:16], "payload_bytes": len(payload)})
    return Response(200, body.encode())


def http_post(payload: str, params) -> Response:
    """POST ``payload`` to ``params.url``; any status of 400 or more is a failed request."""
    where = public_url(params.url)
    headers = {"Content-Type": CONTENT_TYPE}
    try:
        answer = keepalive.post(params.url, payload.encode(), headers, params.timeout)
    except TimeoutError:
        raise Timeout(f"no answer from {where} within {params.timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        message = f"cannot reach {where}: {type(error).__name__}: {error}"
        raise ConnectionFailed(message) from None
    if answer.status >= 400:
        body = answer.body[:MAX_ERROR_BODY]
        raise HTTPStatusError(f"HTTP {answer.status} from {where}", answer.status, body)
    return Response(answer.status, answer.body, answer.connect_seconds)


TARGETS: dict[str, Callable[..., Response]] = {"local": local_service, "http": http_post}


def endpoint(params) -> str:
    """Where the requests of ``params`` go (no credentials, no query string): safe to record."""
    return public_url(params.url) if params.target == "http" else params.target


def get_target(name: str) -> Callable[..., Response]:
    """The send function of ``Params.target``."""
    if name not in TARGETS:
        raise KeyError(f"unknown target {name!r}: choose one of {', '.join(TARGETS)}")
    return TARGETS[name]
