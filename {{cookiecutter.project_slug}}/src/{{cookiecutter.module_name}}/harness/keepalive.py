"""HTTP POST over persistent connections: one connection per thread and endpoint, kept open
between requests (HTTP/1.1 keep-alive), so a request's latency is the request, not a new TCP
and TLS handshake each time. The time spent opening a connection is returned on its own
(``Answer.connect_seconds``): callers leave it out of the latency they record.

Used by the llm kind's OpenAI-compatible client and the throughput kind's HTTP target. A
connection the server closed while idle is reopened once, transparently. Errors are the
standard library's: ``TimeoutError``, ``ConnectionError`` (refused, reset), ``OSError`` (name
resolution) and ``http.client.HTTPException``.
"""

import http.client
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

_local = threading.local()  # this thread's open connections: (scheme, netloc, timeout) -> conn


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: http.client.HTTPMessage
    connect_seconds: float  # 0.0 when an open connection was reused


def connection_for(url: str, timeout: float, use_proxy: bool):
    """A new, not yet connected connection to ``url``'s host (through the environment's proxy
    when ``use_proxy`` and one applies; https through it as a CONNECT tunnel)."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
    proxy = getproxies().get(parts.scheme) if use_proxy else None
    if proxy and not proxy_bypass(parts.hostname or ""):
        via = urlsplit(proxy if "//" in proxy else f"http://{proxy}")
        connection = kind(via.hostname, via.port, timeout=timeout)
        connection.set_tunnel(parts.hostname, parts.port)
        return connection
    return kind(parts.hostname, parts.port, timeout=timeout)


def post(url: str, body: bytes, headers: dict, timeout: float, use_proxy: bool = False) -> Answer:
    """POST ``body`` to ``url`` on this thread's open connection (opened if needed)."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    connections = _local.__dict__.setdefault("connections", {})
    key = (parts.scheme, parts.netloc, timeout, use_proxy)
    for attempt in (1, 2):
        connection = connections.pop(key, None)
        reused = connection is not None
        connect_seconds = 0.0
        if connection is None:
            connection = connection_for(url, timeout, use_proxy)
            start = time.perf_counter()
            connection.connect()
            connect_seconds = time.perf_counter() - start
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            connection.close()
            if reused and attempt == 1:  # the server closed the idle connection: reopen once
                continue
            raise
        except BaseException:
            connection.close()
            raise
        if not response.will_close:
            connections[key] = connection  # kept open for this thread's next request
        else:
            connection.close()
        return Answer(response.status, data, response.headers, connect_seconds)
    raise AssertionError("unreachable")
