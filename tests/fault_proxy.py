"""A fault-injecting reverse proxy on loopback, in front of the emulator: AWS as it is on a bad day.

Every signed AWS request is forwarded to the target unless the proxy draws a fault for it:

- ``throttle``: refused before forwarding, with the throttling error of the request's protocol
  (JSON: HTTP 400 ``ThrottlingException``; query and REST-XML: HTTP 400 ``Throttling``; EC2: HTTP
  503 ``RequestLimitExceeded``; S3: HTTP 503 ``SlowDown``);
- ``unavailable``: refused before forwarding, HTTP 503 ``ServiceUnavailable`` (S3, EC2:
  ``Unavailable``) -- the request never took effect;
- ``lost``: forwarded, the emulator's answer thrown away and HTTP 503 returned instead -- the
  request took effect but the client cannot know it (a lost response).

Seeded and reproducible: the draw for a request depends only on the seed, the request itself
(method, path and query, body digest) and how many identical requests came before it, never on
timing or on the order of concurrent requests (a test may set ``plan.seed`` anew between
runs). Bounded: at most ``max_streak`` faults in a row for identical requests (so a client making
more attempts always gets through), at most ``max_faults`` in all, bodies up to ``MAX_BODY``
bytes, and a timeout on every socket. Emulator-only paths
(``/moto-api``, ``/_asset_manager``) and unsigned requests are forwarded untouched. The proxy's
own counters are at ``GET /_fault_proxy/stats``.

Run it by hand in front of an emulator::

    python tests/fault_proxy.py --target http://127.0.0.1:4566 --rate 0.2 --seed 1

or from a test: ``with FaultProxy(target, rate=0.2, seed=1) as proxy: ... proxy.url``, or through
the ``fault_proxy`` fixture factory below. Standard library only.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import http.client
import json
import re
import signal
import sys
import threading
import urllib.parse
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("throttle", "unavailable", "lost")
EXEMPT_PREFIXES = ("/moto-api", "/_asset_manager", "/_fault_proxy")
STATS_PATH = "/_fault_proxy/stats"
MAX_BODY = 64 * 1024 * 1024
TIMEOUT = 120  # seconds, on every client and upstream socket
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
_QUERY_XMLNS = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
}


class FaultPlan:
    """Which requests fail and how: a seeded, bounded draw per request, and what was drawn.

    ``rate`` is the chance a request gets a fault; ``kinds`` weighs the kinds of fault
    (``{"throttle": 1, "unavailable": 1, "lost": 1}`` by default). Thread-safe.
    """

    def __init__(self, rate=0.2, seed=0, kinds=None, max_streak=5, max_faults=None, script=None,
                 spare_lost=()):  # fmt: skip
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1, not {rate}")
        weights = dict(kinds if kinds is not None else {k: 1 for k in KINDS})
        unknown = set(weights) - set(KINDS)
        if unknown or any(w < 0 for w in weights.values()) or not sum(weights.values()):
            raise ValueError(f"kinds must weigh some of {', '.join(KINDS)}: {weights}")
        total = sum(weights.values())
        self.rate = rate
        self.seed = seed
        self.max_streak = max_streak
        self.max_faults = max_faults
        # Targeted faults, before any drawn one: {pattern: [kind or None, ...]}, the next entry of
        # the first pattern that matches "service:operation" (fnmatch) or the operation taken by
        # each matching request. Counted and bounded like the drawn ones, but never by max_streak.
        self._script = {pattern: list(kinds) for pattern, kinds in (script or {}).items()}
        # Operations (same patterns) that never draw a lost response: for an emulator that is not
        # idempotent where AWS is.
        self.spare_lost = tuple(spare_lost)
        self._bounds = []  # (upper bound of the draw, kind)
        upper = 0.0
        for kind in KINDS:
            if weights.get(kind):
                upper += rate * weights[kind] / total
                self._bounds.append((upper, kind))
        self._lock = threading.Lock()
        self._seen = Counter()  # request key -> identical requests so far
        self._streak = Counter()  # request key -> faults in a row
        self.requests = 0  # requests the plan decided on
        self.injected = Counter()  # kind -> faults
        self.by_operation = Counter()  # (service, operation, kind) -> faults

    def _draw(self, key, n):
        digest = hashlib.sha256(f"{self.seed}\0{key}\0{n}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def decide(self, key, service="?", operation="?"):
        """The fault for this request (one of KINDS), or None to forward it untouched."""
        with self._lock:
            n = self._seen[key]
            self._seen[key] += 1
            self.requests += 1
            name = f"{service}:{operation}"
            scripted = next(
                (p for p, left in self._script.items() if left and _matches(p, operation, name)),
                None,
            )
            if scripted is not None:
                kind = self._script[scripted].pop(0)
            else:
                kind = None
                draw = self._draw(key, n)
                for upper, candidate in self._bounds:
                    if draw < upper:
                        kind = candidate
                        break
                if kind == "lost" and any(_matches(p, operation, name) for p in self.spare_lost):
                    kind = "unavailable"
                if kind and self.max_streak is not None and self._streak[key] >= self.max_streak:
                    kind = None
            if kind and self.max_faults is not None and self.total >= self.max_faults:
                kind = None
            if kind:
                self._streak[key] += 1
                self.injected[kind] += 1
                self.by_operation[service, operation, kind] += 1
            else:
                self._streak.pop(key, None)
            return kind

    def unused_script(self):
        """{pattern: kinds} of the script no request has taken yet."""
        with self._lock:
            return {p: list(kinds) for p, kinds in self._script.items() if kinds}

    @property
    def total(self):
        return sum(self.injected.values())

    def stats(self):
        """What the plan drew so far, as JSON-ready data."""
        with self._lock:
            return {
                "seed": self.seed,
                "rate": self.rate,
                "requests": self.requests,
                "injected": {kind: self.injected[kind] for kind in KINDS},
                "total": self.total,
                "by_operation": [
                    {"service": s, "operation": o, "kind": k, "count": c}
                    for (s, o, k), c in sorted(self.by_operation.items())
                ],
            }


def _matches(pattern, operation, name):
    return pattern == operation or fnmatch.fnmatchcase(name, pattern)


def describe_request(method, path, headers, body):
    """(service, operation, protocol) of an AWS request; service None when it is not signed.

    protocol is one of json, query, ec2, rest-xml, s3, rest-json (botocore's names).
    """
    auth = headers.get("Authorization", "")
    found = _CREDENTIAL.search(auth)
    if not found:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        credential = (query.get("X-Amz-Credential") or [""])[0]
        parts = credential.split("/")
        service = parts[3] if len(parts) == 5 else None
    else:
        service = found.group(1)
    if service is None:
        return None, None, None
    target = headers.get("X-Amz-Target")
    content_type = headers.get("Content-Type", "")
    if target:
        return service, target.rsplit(".", 1)[-1], "json"
    if service == "s3":
        return service, f"{method} {urllib.parse.urlsplit(path).path}", "s3"
    action = None
    if "x-www-form-urlencoded" in content_type:
        action = (urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action") or [None])[0]
    if action is None:
        action = (urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("Action") or [None])[
            0
        ]
    if action:
        return service, action, "ec2" if service == "ec2" else "query"
    operation = f"{method} {urllib.parse.urlsplit(path).path}"
    if service in ("route53", "cloudfront"):
        return service, operation, "rest-xml"
    return service, operation, "rest-json"


def fault_response(kind, protocol, service):
    """(status, headers, body) of the error AWS answers for a fault of `kind` in `protocol`."""
    request_id = str(uuid.uuid4())
    throttle = kind == "throttle"
    if protocol in ("json", "rest-json"):
        code = "ThrottlingException" if throttle else "ServiceUnavailableException"
        status = 400 if throttle else 503
        message = "Rate exceeded" if throttle else "Service unavailable, try again"
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
        return (
            status,
            {
                "Content-Type": content_type,
                "x-amzn-ErrorType": f"{code}:",
                "x-amzn-RequestId": request_id,
            },
            body,
        )
    if protocol == "s3":
        code, message = (
            ("SlowDown", "Please reduce your request rate.")
            if throttle
            else ("ServiceUnavailable", "Service is unable to handle request.")
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return (
            503,
            {"Content-Type": "application/xml", "x-amz-request-id": request_id},
            body.encode(),
        )
    if protocol == "ec2":
        code, message = (
            ("RequestLimitExceeded", "Request limit exceeded.")
            if throttle
            else ("Unavailable", "The server is overloaded and can't handle the request.")
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return 503, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()
    # query and rest-xml
    code, sender, status, message = (
        ("Throttling", "Sender", 400, "Rate exceeded")
        if throttle
        else ("ServiceUnavailable", "Receiver", 503, "Service unavailable, try again")
    )
    xmlns = _QUERY_XMLNS.get(service)
    attr = f' xmlns="{xmlns}"' if xmlns else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<ErrorResponse{attr}><Error><Type>{sender}</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    timeout = TIMEOUT
    server: _Server

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        if self.server.verbose:
            super().log_message(format, *args)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, size = [], 0
            while True:
                length = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                size += length
                if size > MAX_BODY:
                    raise ValueError("request body too large")
                if not length:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(length))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _send(self, status, headers, body, head=False):
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header(
            "Content-Length", str(len(body)) if not head else headers_length(headers, body)
        )
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _forward(self, body):
        target = self.server.target
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=TIMEOUT)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers.pop("Content-Length", None)
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read() if self.command != "HEAD" else b""
            return response.status, response.getheaders(), data
        finally:
            conn.close()

    def _handle(self):
        try:
            body = self._read_body()
        except ValueError as error:
            self.close_connection = True
            self._send(413, [("Content-Type", "text/plain")], str(error).encode())
            return
        head = self.command == "HEAD"
        if self.path.split("?", 1)[0] == STATS_PATH:
            payload = json.dumps(self.server.plan.stats()).encode()
            self._send(200, [("Content-Type", "application/json")], payload)
            return
        service, operation, protocol = describe_request(self.command, self.path, self.headers, body)
        kind = None
        if service and not self.path.startswith(EXEMPT_PREFIXES):
            key = f"{self.command} {self.path} {hashlib.sha256(body).hexdigest()}"
            kind = self.server.plan.decide(key, service, operation)
        if kind in ("throttle", "unavailable"):
            status, headers, data = fault_response(kind, protocol, service)
            self._send(status, list(headers.items()), data, head=head)
            return
        try:
            status, headers, data = self._forward(body)
        except OSError as error:
            self._send(502, [("Content-Type", "text/plain")], f"upstream: {error}".encode())
            return
        if service and self.server.on_forwarded:
            self.server.on_forwarded(service, operation, status)
        if kind == "lost":
            status, headers, data = fault_response(kind, protocol, service)
            self._send(status, list(headers.items()), data, head=head)
            return
        self._send(status, headers, data, head=head)

    def _handle_quietly(self):
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a test may have killed it)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle_quietly


def headers_length(headers, body):
    """The Content-Length of a HEAD answer: the upstream's, else the body's."""
    for name, value in headers:
        if name.lower() == "content-length":
            return value
    return str(len(body))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a client gone is no error

    def __init__(self, address, target, plan, verbose=False):
        super().__init__(address, _Handler)
        self.target = urllib.parse.urlsplit(target)
        self.plan = plan
        self.verbose = verbose
        self.on_forwarded = None


class FaultProxy:
    """The proxy, on 127.0.0.1 (a free port unless `port` is given), in a background thread.

    Use as a context manager, or start() and stop(). ``url`` is its endpoint; ``plan`` its
    FaultPlan (counters: ``plan.injected``, ``plan.requests``, ``plan.stats()``).
    """

    def __init__(self, target, *, port=0, verbose=False, on_forwarded=None, **plan):
        self.plan = FaultPlan(**plan)
        self._server = _Server(("127.0.0.1", port), target, self.plan, verbose)
        # Called as on_forwarded(service, operation, status) once the target has answered a
        # signed request, before the client gets the answer: where a test kills its client.
        self._server.on_forwarded = on_forwarded
        self._thread = None

    @property
    def on_forwarded(self):
        return self._server.on_forwarded

    @on_forwarded.setter
    def on_forwarded(self, hook):
        self._server.on_forwarded = hook

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


try:
    import pytest
except ImportError:  # run by hand without pytest installed
    pytest = None

if pytest is not None:

    @pytest.fixture
    def fault_proxy():
        """Factory of FaultProxy instances (started), all stopped at the end of the test:
        ``proxy = fault_proxy(emulator, rate=0.2, seed=1)``. Import it into a test module."""
        started = []

        def make(target, **kwargs):
            proxy = FaultProxy(target, **kwargs).start()
            started.append(proxy)
            return proxy

        yield make
        for proxy in started:
            proxy.stop()


def _parse_kinds(text):
    kinds = {}
    for part in text.split(","):
        name, _sep, weight = part.partition("=")
        kinds[name.strip()] = float(weight or 1)
    return kinds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="the emulator, e.g. http://127.0.0.1:4566")
    parser.add_argument("--rate", type=float, default=0.2, help="chance of a fault per request")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--kinds", type=_parse_kinds, default=None,
        help="weights of the kinds of fault, e.g. throttle=2,unavailable=1,lost=1 (default: equal)",
    )  # fmt: skip
    parser.add_argument("--max-streak", type=int, default=5, help="faults in a row per request")
    parser.add_argument("--max-faults", type=int, default=None, help="faults in all")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        proxy = FaultProxy(
            args.target, port=args.port, verbose=args.verbose, rate=args.rate, seed=args.seed,
            kinds=args.kinds, max_streak=args.max_streak, max_faults=args.max_faults,
        )  # fmt: skip
    except ValueError as error:
        parser.error(str(error))
    print(f"fault proxy on {proxy.url} -> {args.target} (rate {args.rate}, seed {args.seed})",
          flush=True)  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    proxy.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    proxy.stop()
    print(json.dumps(proxy.plan.stats(), indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
