"""The reviewer page (`greenlight review serve`): the review queue in a browser on 127.0.0.1, acting with
the operator's own credentials. Flask, plain HTML/CSS/JS held as Python strings: no build step.

    serve(context, port=0, open_browser=True)   # until Ctrl-C
    with ReviewServer(ReviewBackend.from_context(context)) as server:
        ... server.launch_url ...
"""

from greenlight_cli.web.backend import ReviewBackend, S3Thumbnails, Thumbnail
from greenlight_cli.web.guard import Guard
from greenlight_cli.web.server import ReviewServer, open_in_browser, serve, start

__all__ = ["Guard", "ReviewBackend", "ReviewServer", "S3Thumbnails", "Thumbnail", "open_in_browser", "serve", "start"]
