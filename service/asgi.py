"""The ASGI entry point Hypercorn loads: `service.asgi:app` (settings from the environment)."""

import gc
import logging

from models.settings import Settings
from service.app import create_app
from service.logs import setup_logging

if not logging.getLogger().handlers:
    # a Hypercorn worker process (-w N) starts afresh: `vm-api web` set up only its own
    setup_logging("web")

# Young-generation collections this much rarer than Python's default of 700 allocations: a
# request leaves reference cycles behind, and at the default the collector ran about 60 times
# a second under load. Measured (docs/benchmarks.md, benchmark 2): total collector time under
# load less than half, longest pause about 10 ms.
YOUNG_GC_THRESHOLD = 5_000

app = create_app(Settings.from_env())


@app.before_serving
async def settle_heap() -> None:
    """Moves everything start-up made (modules, the app, Pony's mapping: some 70,000 objects)
    out of the collector's sight, once, before the first request. Otherwise each full
    collection under load walks all of it again: 50-80 ms with the loop stopped, which was
    most of the API's p99 latency. Only the web server does this: it is the one with a p99."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, 10, 10)
