"""A request id on every request: the client's X-Request-ID if it is sane, else a new one.

It is returned on every response, set in the request's context (log lines and the operations
it records carry it: models/request_context.py), and the task that carries out an operation
sets it again from the operation, so one grep follows a create from the request to the
container.
"""

from __future__ import annotations

from quart import Quart, Response, g, request

from models.request_context import accepted_or_new, set_request_id

HEADER = "X-Request-ID"


async def _take_request_id() -> None:
    g.request_id = accepted_or_new(request.headers.get(HEADER))
    set_request_id(g.request_id)


async def _return_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is not None:
        response.headers[HEADER] = request_id
    return response


def install_request_ids(app: Quart) -> None:
    # First of all before-request hooks: a request refused early gets its id too.
    app.before_request_funcs.setdefault(None, []).insert(0, _take_request_id)
    app.after_request(_return_request_id)
