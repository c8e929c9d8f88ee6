"""The web side of the app (Starlette, served by uvicorn): a static page and a small JSON API.

Security: binds 127.0.0.1 unless told otherwise, and then only with a token (sent as the
``X-Veracity-Token`` header, or ``?token=`` on the page's address); request bodies over
``max_body`` bytes are refused with 413; malformed JSON and bad arguments get 400 with a
message, unknown paths 404, wrong methods 405; an unexpected failure answers 500 with no
traceback. The API returns JSON only; the page puts every string in with ``textContent``.
"""

from __future__ import annotations

import hmac
import json
import logging
from importlib import resources
from typing import Any, Awaitable, Callable

from veracity.insights.explorer import Explorer, RequestError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_HEADER = "x-veracity-token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'")
STATIC = ("index.html", "app.js", "app.css")
log = logging.getLogger("veracity.insights")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-local bind without a token (anyone on the network could use the model)."""
    if host not in LOCAL_HOSTS and not token:
        raise ValueError(f"`token`: binding to {host!r} (not this machine only) needs a token; "
                         "pass token=... or bind 127.0.0.1")
    if token is not None and (not isinstance(token, str) or len(token) < 8):
        raise ValueError("`token`: expected a string of at least 8 characters")


class Guard:
    """ASGI middleware: body size limit, token check, security headers on every response."""

    def __init__(self, app: Any, token: str | None, max_body: int) -> None:
        self.app, self.token, self.max_body = app, token, max_body

    async def _reply(self, send: Send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})

    def _token_ok(self, scope: Scope) -> bool:
        if self.token is None or scope["path"].startswith("/static/"):
            return True
        headers = dict(scope.get("headers", []))
        given = headers.get(TOKEN_HEADER.encode(), b"").decode("latin-1")
        if not given:
            from urllib.parse import parse_qs

            given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._token_ok(scope):
            await self._reply(send, 401, "missing or wrong token")
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._reply(send, 413, f"request body over the limit of {self.max_body} bytes")
            return
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:  # answered 413 by the app's HTTPException handler
                from starlette.exceptions import HTTPException

                raise HTTPException(413, f"request body over the limit of {self.max_body} bytes")
            return message

        async def secured_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-content-type-options", b"nosniff"),
                                                  (b"content-security-policy", CSP.encode()),
                                                  (b"referrer-policy", b"no-referrer")]}
            await send(message)

        await self.app(scope, limited_receive, secured_send)


def build_app(explorer: Explorer, token: str | None = None, max_body: int = 65536, host: str = "127.0.0.1") -> Any:
    """The ASGI application of the explorer (Starlette), wrapped in :class:`Guard`."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    folder = resources.files("veracity.insights").joinpath("static")
    pages = {name: folder.joinpath(name).read_bytes() for name in STATIC}
    types = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
             "css": "text/css; charset=utf-8"}

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def integer(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
            raise RequestError(f"{name}: expected an integer in {low}..{high}, got {raw[:40]!r}")
        return int(raw)

    async def index(request: Request) -> Response:
        return Response(pages["index.html"], media_type=types["html"])

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in pages or name == "index.html":
            return error(404, "no such file")
        return Response(pages[name], media_type=types[name.rsplit(".", 1)[1]])

    async def config(request: Request) -> Response:
        return JSONResponse(explorer.config())

    async def examples(request: Request) -> Response:
        n_classes = max(len(explorer.classes), max(o.shape[1] for o in explorer.outputs))
        return JSONResponse(explorer.examples(
            model=integer(request, "model", 0, 0, len(explorer.models) - 1) or 0,
            true_class=integer(request, "true", None, 0, n_classes - 1),
            predicted_class=integer(request, "predicted", None, 0, n_classes - 1),
            offset=integer(request, "offset", 0, 0, 10**9) or 0, limit=integer(request, "limit", 24, 1, 200) or 24))

    async def attribute(request: Request) -> Response:
        if "application/json" not in request.headers.get("content-type", ""):
            return error(415, "expected a JSON body (content-type: application/json)")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "the request body is not valid JSON")
        if not isinstance(body, dict):
            return error(400, "expected a JSON object {example, methods, model?, target?}")
        unknown = sorted(set(body) - {"example", "methods", "model", "target"})
        if unknown:
            return error(400, f"unknown field {str(unknown[0])[:40]!r}")
        from starlette.concurrency import run_in_threadpool

        result = await run_in_threadpool(explorer.attribute, body.get("example"), body.get("methods"),
                                         body.get("model", 0), body.get("target"))
        return JSONResponse(result)

    async def request_error(request: Request, exc: Exception) -> Response:
        return error(400, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, str(exc.detail))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("request failed")
        return error(500, f"internal error ({type(exc).__name__}); see the server's log")

    middleware = [] if host not in LOCAL_HOSTS else [
        Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]", "testserver"])]
    app = Starlette(routes=[Route("/", index), Route("/static/{name}", static), Route("/api/config", config),
                            Route("/api/examples", examples), Route("/api/attribute", attribute, methods=["POST"])],
                    middleware=middleware,
                    exception_handlers={RequestError: request_error, HTTPException: http_error,
                                        Exception: server_error})
    return Guard(app, token, max_body)
