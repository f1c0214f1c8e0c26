"""Safe retries: every POST under /api accepts an `Idempotency-Key`.

One pair of app-level hooks, so that every POST route, present and future, is covered without
a decorator to forget. Before the route: claim the key for (caller, key), or answer from what
the first request with it stored. After the route: store the answer, or release the key.
A keyed request runs to its end even when its client hangs up, so its answer is there for the
retry (see _shield_keyed_requests).

Stored: every 2xx and 4xx answer, because each is final for that exact request (a retry of a
refused create is refused the same way, and a 409 NAME_TAKEN stays the answer for that key).
A 5xx releases the key: the request was not applied, and a retry should do the work.
Nothing is stored for a request with no identity (the route's 401) or a key refused here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from quart import Quart, Response, g, request
from quart.utils import run_sync

from models.idempotency import (
    ABANDONED_AFTER,
    Busy,
    Claimed,
    Fingerprint,
    StoredResponse,
    claim_key,
    finish_key,
    release_key,
)
from service.auth import caller
from service.errors import APIError, error_response

log = logging.getLogger("vm_api.idempotency")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII: servers hand header values over as latin-1, so anything else is mojibake.
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
# What a replay repeats besides status and body; per-request headers (CORS, ...) are added anew.
STORED_HEADERS = ("Location", "Content-Type")
RETRY_AFTER_SECONDS = 1

OPENAPI_PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key with the same body within 24 h returns "
    f"the first answer again, with `{REPLAYED_HEADER}: true`. Another body is 422 "
    "IDEMPOTENCY_KEY_REUSED; while the first request runs, 409 IDEMPOTENCY_IN_PROGRESS.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x20-\x7e]+$"},
}
OPENAPI_REUSED = "The Idempotency-Key was first used with another method, path or body."


@dataclass(frozen=True)
class _Claim:
    owner: str
    key: str
    claim_id: str


def request_key(headers: Any) -> str | None:
    """The request's key, None without one; APIError 400 for a malformed one."""
    values = headers.getlist(HEADER)
    if not values:
        return None
    if len(values) > 1:
        raise APIError(400, "INVALID_IDEMPOTENCY_KEY", f"{HEADER}: send one key, not several")
    value = values[0]
    if not KEY_PATTERN.fullmatch(value) or not value.strip():
        raise APIError(
            400, "INVALID_IDEMPOTENCY_KEY", f"{HEADER}: must be 1-255 printable ASCII characters"
        )
    return value  # type: ignore[no-any-return]


def _covered() -> bool:
    # url_rule None: no route matched (404, 405); the router's answer needs no key.
    return (
        request.method == "POST"
        and request.url_rule is not None
        and request.path.startswith("/api/")
    )


def _replay(stored: StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status, headers=stored.headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _in_progress() -> Response:
    response, status = error_response(
        409,
        "IDEMPOTENCY_IN_PROGRESS",
        f"a request with this {HEADER} is still being processed; retry shortly",
    )
    response.status_code = status
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _claim_before_request() -> Response | None:
    if not _covered():
        return None
    key = request_key(request.headers)
    if key is None:
        return None
    user = caller()
    if user is None:
        return None  # the route refuses it with 401; an anonymous key means nothing
    body = await request.get_data()  # cached: the route reads the same bytes
    fingerprint = Fingerprint(request.method, request.path, hashlib.sha256(body).hexdigest())
    outcome = await run_sync(claim_key)(user, key, fingerprint)
    if isinstance(outcome, Claimed):
        g.idempotency_claim = _Claim(user, key, outcome.claim_id)
        return None
    if isinstance(outcome, StoredResponse):
        return _replay(outcome)
    if outcome is Busy.REUSED:
        raise APIError(
            422,
            "IDEMPOTENCY_KEY_REUSED",
            f"this {HEADER} was used for a different request (method, path or body)",
        )
    return _in_progress()


async def _record_after_request(response: Response) -> Response:
    claim: _Claim | None = g.pop("idempotency_claim", None)
    if claim is None:
        return response
    try:
        if 200 <= response.status_code < 500:
            headers = {
                name: response.headers[name] for name in STORED_HEADERS if name in response.headers
            }
            body = await response.get_data(as_text=True)
            stored = StoredResponse(response.status_code, body, headers)
            await run_sync(finish_key)(claim.owner, claim.key, claim.claim_id, stored)
        else:
            await run_sync(release_key)(claim.owner, claim.key, claim.claim_id)
    except Exception:
        # The work is done and committed: its answer goes out all the same. The claim stays
        # in progress, so a retry gets 409 until it counts as abandoned.
        log.exception(
            "could not record the answer for %s %r (abandoned after %s)",
            claim.owner,
            claim.key,
            ABANDONED_AFTER,
        )
    return response


# Strong references: the event loop keeps only weak ones to the tasks it runs.
_finishing: set[asyncio.Task[Any]] = set()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("keyed request failed after its client left", exc_info=task.exception())


def _shield_keyed_requests(app: Quart) -> None:
    """A client that hangs up cancels its handler (Quart does so on disconnect), typically at
    the await of a write whose thread commits all the same. The answer would then never be
    stored, and the retry that follows (that is why clients hang up) would be refused for
    ABANDONED_AFTER and then do the work again. So a keyed request runs to its end, and its
    answer is stored, whether or not anyone still waits for it."""
    dispatch = app.full_dispatch_request

    async def full_dispatch_request(request_context: Any = None) -> Any:
        if request.method != "POST" or HEADER not in request.headers:
            return await dispatch(request_context)
        task = asyncio.ensure_future(dispatch(request_context))
        _finishing.add(task)
        task.add_done_callback(_finishing.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_log_failure)  # no one is left to hear how it ends
            raise

    app.full_dispatch_request = full_dispatch_request  # type: ignore[method-assign]


def install_idempotency(app: Quart) -> None:
    app.before_request(_claim_before_request)
    app.after_request(_record_after_request)
    _shield_keyed_requests(app)
