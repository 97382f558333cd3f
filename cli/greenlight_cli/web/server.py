"""Serving the reviewer page on 127.0.0.1: `serve` for `greenlight review serve` (until Ctrl-C), and
`ReviewServer` to start and stop it in a thread (tests, `make review-demo`)."""

from __future__ import annotations

import os
import sys
import threading
import webbrowser
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from greenlight_cli.web.app import create_app
from greenlight_cli.web.backend import ReviewBackend
from greenlight_cli.web.guard import LOOPBACK, Guard, loopback_host

if TYPE_CHECKING:
    from greenlight_cli.stack import StackContext


class _QuietHandler(WSGIRequestHandler):
    """No request log: the launch URL carries the access key, and the terminal is the operator's."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ReviewServer:
    """The page for `backend`, bound to 127.0.0.1 (`port` 0: a free one) with fresh access key and CSRF
    token. `start()` serves from a thread; `stop()` (or the with-block's end) closes it."""

    def __init__(self, backend: ReviewBackend, *, host: str = LOOPBACK, port: int = 0) -> None:
        address = loopback_host(host)
        self.backend = backend
        self.guard = Guard()
        self.app = create_app(backend, self.guard)
        try:
            self._server: BaseWSGIServer = make_server(address, port, self.app, threaded=True,
                                                       request_handler=_QuietHandler)
        except OSError as exc:
            raise OSError(f"cannot listen on {address}:{port} ({exc.strerror or exc})") from exc
        self.guard.port = int(self._server.port)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.guard.port

    @property
    def base_url(self) -> str:
        return self.guard.base_url

    @property
    def launch_url(self) -> str:
        """The URL to open: it carries this start's access key (the page then keeps a session cookie)."""
        return self.guard.launch_url

    def start(self) -> ReviewServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="review-page", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until KeyboardInterrupt."""
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()


def open_in_browser(url: str) -> bool:
    """Open `url` in a graphical browser if this session has one (never a console browser in this terminal)."""
    graphical = sys.platform in ("darwin", "win32") or any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"))
    if not graphical:
        return False
    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False


def start(context: StackContext, *, host: str = LOOPBACK, port: int = 0) -> ReviewServer:
    """The page for `context`'s stack, serving from a thread (the caller stops it)."""
    from greenlight_cli.stack import CliError

    try:
        return ReviewServer(ReviewBackend.from_context(context), host=host, port=port).start()
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from exc


def serve(context: StackContext, *, host: str = LOOPBACK, port: int = 0, open_browser: bool = False) -> int:
    """`greenlight review serve`: the page for `context`'s stack until Ctrl-C. Returns the exit code."""
    from greenlight_cli.stack import CliError

    try:
        server = ReviewServer(ReviewBackend.from_context(context), host=host, port=port)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from exc
    print(f"greenlight: the review page for stack {context.name}, acting as {server.backend.actor}:", flush=True)
    print(f"  {server.launch_url}", flush=True)
    if open_browser and not open_in_browser(server.launch_url):
        print("greenlight: no graphical browser here: open the URL above in yours", flush=True)
    print("greenlight: Ctrl-C stops the page (the URL works only while it runs)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\ngreenlight: review page stopped", flush=True)
    finally:
        server.stop()
    return 0
