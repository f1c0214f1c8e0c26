"""A request id on every request: the client's X-Request-ID if it is sane, else a new one.

It is returned on every response, set in the request's context (log lines and the operations
it records carry it: models/request_context.py), and the task that carries out an operation
sets it again from the operation, so one grep follows a create from the request to the
container.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from quart import Quart, Response, g, request

from models.request_context import accepted_or_new, set_request_id

HEADER = "X-Request-ID"


def install_request_ids(app: Quart) -> None:
    """The first before-request hook (a request refused early gets its id too) and an
    after-request hook; they also time and count the request for /metrics when that is on
    (one hook pair for both: every hook costs each request an await)."""
    count: Callable[[float, Response], None] | None = app.extensions.get("vm_api.count_request")

    async def take_request_id() -> None:
        g.request_started = time.perf_counter()
        g.request_id = accepted_or_new(request.headers.get(HEADER))
        set_request_id(g.request_id)

    async def return_request_id(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is not None:
            response.headers[HEADER] = request_id
            if count is not None:
                count(g.request_started, response)
        return response

    app.before_request_funcs.setdefault(None, []).insert(0, take_request_id)
    app.after_request(return_request_id)
