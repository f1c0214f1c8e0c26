"""How webhook deliveries are signed and spaced."""

from __future__ import annotations

import hashlib
import hmac

from tasks.webhooks import MAX_RETRY_SECONDS, retry_delay, signature


def test_the_signature_is_the_hmac_of_the_raw_body() -> None:
    body = b'{"id":"1","type":"workspace.failed"}'
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()

    assert signature("secret", body) == f"sha256={expected}"
    assert signature("other", body) != signature("secret", body)


def test_retries_start_within_30_s_and_double_up_to_an_hour() -> None:
    delays = [retry_delay(attempt, 10.0) for attempt in range(1, 12)]

    assert delays[:4] == [10.0, 20.0, 40.0, 80.0]
    assert max(delays) == MAX_RETRY_SECONDS

    # A day holds about 32 attempts: nine that double, then hourly ones.
    def total(attempts: int) -> float:
        return sum(retry_delay(a, 10.0) for a in range(1, attempts + 1))

    assert total(30) < 86400 < total(33)
