"""The reviewer page's HTTP side: the page, its script and style, the queue as JSON, and approve/block.

Routes (every one behind the Host check, all but the static files behind the session cookie; see guard):
    GET  /?key=K        trade the printed access key for the session cookie, then go to /
    GET  /              the page (no credentials, no presigned URLs: it loads the queue itself)
    GET  /review.js, /review.css
    GET  /api/queue     the review queue with thumbnail URLs presigned now, for THUMBNAIL_SECONDS
    POST /api/decisions {record_id, decision: pass|block, reason, request_id, decision_rev}
"""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask, Response, jsonify, redirect, request

from greenlight.review.overrides import MAX_REASON, OverrideRefused
from greenlight_cli.web.assets import PAGE_CSS, PAGE_HTML, PAGE_JS
from greenlight_cli.web.backend import PAGE_DECISIONS, PolicyUnavailable, RecordNotFound, ReviewBackend, outcome
from greenlight_cli.web.guard import CSRF_HEADER, Guard

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NOT_SIGNED_IN = ("Open the review page with the URL `greenlight review serve` printed (it carries this "
                 "server's access key).\n")


class BadRequest(Exception):
    pass


def _text(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def security_headers(response: Response, image_origins: tuple[str, ...]) -> Response:
    images = " ".join(("'self'", *image_origins))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def decision_request(body: Any) -> dict[str, Any]:
    """The fields of a POST /api/decisions body, checked; BadRequest says what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    record_id, decision, reason = body.get("record_id"), body.get("decision"), body.get("reason")
    request_id, seen_rev = body.get("request_id"), body.get("decision_rev")
    if not isinstance(record_id, str) or not 1 <= len(record_id) <= 256:
        raise BadRequest("record_id must be a record's id")
    if decision not in PAGE_DECISIONS:
        raise BadRequest(f"decision must be one of {', '.join(PAGE_DECISIONS)}")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise BadRequest(f"a reason of 1 to {MAX_REASON} characters is required")
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise BadRequest("request_id must be 16 to 64 letters, digits, '-' or '_'")
    if isinstance(seen_rev, bool) or not isinstance(seen_rev, int) or seen_rev < 0:
        raise BadRequest("decision_rev must be the decision revision the page showed")
    return {"record_id": record_id, "decision": decision, "reason": reason.strip(), "request_id": request_id,
            "seen_rev": seen_rev}


def create_app(backend: ReviewBackend, guard: Guard) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

    def signed_in() -> bool:
        return guard.session_ok(request.cookies.get(guard.cookie))

    @app.before_request
    def right_host() -> Response | None:
        if not guard.host_ok(request.headers.get("Host")):
            return _text(403, "This server answers to 127.0.0.1 and localhost only.\n")
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        return security_headers(response, backend.image_origins)

    @app.get("/")
    def page() -> Any:
        key = request.args.get("key")
        if key is not None:
            if not guard.key_ok(key):
                return _text(401, NOT_SIGNED_IN)
            response = redirect("/", code=303)  # the key leaves the address bar
            response.set_cookie(guard.cookie, guard.session, httponly=True, samesite="Strict", path="/")
            return response
        if not signed_in():
            return _text(401, NOT_SIGNED_IN)
        return Response(PAGE_HTML.replace("{csrf_token}", html.escape(guard.csrf_token)), mimetype="text/html")

    @app.get("/review.js")
    def script() -> Response:
        return Response(PAGE_JS, mimetype="text/javascript")

    @app.get("/review.css")
    def style() -> Response:
        return Response(PAGE_CSS, mimetype="text/css")

    @app.get("/api/queue")
    def queue() -> Response:
        if not signed_in():
            return _error(401, NOT_SIGNED_IN.strip())
        return jsonify(backend.queue())

    @app.post("/api/decisions")
    def decide() -> Response:
        if not signed_in():
            return _error(401, NOT_SIGNED_IN.strip())
        if not guard.same_origin(request.headers.get("Origin"), request.headers.get("Referer"),
                                 request.headers.get("Sec-Fetch-Site")):
            return _error(403, "refused: the request did not come from this page")
        if not guard.csrf_ok(request.headers.get(CSRF_HEADER)):
            return _error(403, "refused: missing or wrong CSRF token (reload the page)")
        if request.mimetype != "application/json":
            return _error(415, "the body must be JSON")
        try:
            fields = decision_request(request.get_json(silent=True))
            return jsonify(outcome(backend.decide(**fields)))
        except BadRequest as exc:
            return _error(400, str(exc))
        except RecordNotFound as exc:
            return _error(404, str(exc))
        except OverrideRefused as exc:
            return _error(409, str(exc))
        except PolicyUnavailable as exc:
            return _error(503, str(exc))

    @app.errorhandler(Exception)
    def failed(exc: Exception) -> Any:
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return exc
        # AWS error messages hold no secrets; the first line says what failed (expired credentials...).
        return _error(502, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}".strip())

    return app
