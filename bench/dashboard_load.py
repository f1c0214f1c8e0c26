"""Dashboard page load (issue 12): time until the list of 200 workspaces is rendered.

One `vm-api web` with 200 seeded workspaces for one user, and a user with none. Debian's
chromium (through Playwright, never `playwright install`) loads `/` fresh, in a new browser
context each time, alternating the two users; the time is the page's own
`performance.mark("vm-api:first-view")`, set once `/api/v1/me`, the templates and the whole list
have arrived and the list is drawn (measured from the navigation's start). Reported: p50 and
p90 for each, and the ratio of the 200-workspace load to the empty one (the baseline of the
same run: the page's fixed costs, its files and the first requests).

Target: 200 workspaces at most 1.5x the empty page's load.

    .venv/bin/python bench/dashboard_load.py [--rounds 15] [--workspaces 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))  # browser_support

from browser_support import CHROMIUM_ARGS, browser_unavailable_reason
from harness import (
    Service,
    banner,
    exit_on_sigterm,
    free_port,
    percentile,
    prestart,
    print_table,
    ratio,
    seed_workspaces,
    service_env,
    verdict,
    vm_api_command,
    workdir,
)

FULL_USER = "user0"  # seed_workspaces' owner with users=1
EMPTY_USER = "nobody"
TARGET_RATIO = 1.5
READ_MARK = (
    "(() => { const m = performance.getEntriesByName('vm-api:first-view');"
    " return m.length ? m[0].startTime : null; })()"
)


def load_once(browser: object, url: str, user: str, workspaces: int) -> float:
    """Milliseconds from navigation start to the first view with the list drawn."""
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        # the dev identity is stored before the page runs, as a returning user has it
        context.add_init_script(f"localStorage.setItem('vm-api.user', {user!r})")
        page = context.new_page()
        page.goto(url)
        rows = f"#workspace-rows tr:nth-child({workspaces})" if workspaces else "#no-workspaces"
        page.wait_for_selector(rows, state="attached", timeout=30_000)
        for _ in range(200):
            mark = page.evaluate(READ_MARK)
            if mark is not None:
                return float(mark)
            page.wait_for_timeout(10)
        raise RuntimeError("the page never set its vm-api:first-view mark")
    finally:
        context.close()


def run(args: argparse.Namespace) -> int:
    from playwright.sync_api import sync_playwright

    with workdir("dashboard-load") as root:
        port = free_port()
        env = service_env(root, port, VM_API_WEB_WORKERS="1")
        prestart(env)
        seed_workspaces(root / "vm.db", rows=args.workspaces, users=1, with_operations=True)
        web = Service([*vm_api_command(), "web"], env, root / "web.log", port=port).start()
        full: list[float] = []
        empty: list[float] = []
        try:
            url = web.base_url + "/"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                try:
                    load_once(browser, url, FULL_USER, args.workspaces)  # warm-up
                    load_once(browser, url, EMPTY_USER, 0)
                    for _ in range(args.rounds):
                        full.append(load_once(browser, url, FULL_USER, args.workspaces))
                        empty.append(load_once(browser, url, EMPTY_USER, 0))
                finally:
                    browser.close()
        finally:
            web.stop()
    full_p50, empty_p50 = statistics.median(full), statistics.median(empty)
    ok = full_p50 <= TARGET_RATIO * empty_p50
    banner(f"dashboard load, {args.workspaces} workspaces against none ({args.rounds} rounds)")
    print_table(
        ["measure", "p50", "p90", "target", "verdict"],
        [
            ["empty list (baseline)", f"{empty_p50:.1f} ms", f"{percentile(empty, 90):.1f} ms",
             "", ""],
            [f"{args.workspaces} workspaces", f"{full_p50:.1f} ms",
             f"{percentile(full, 90):.1f} ms", "", ""],
            ["ratio (p50)", ratio(full_p50, empty_p50), "", f"<= {TARGET_RATIO:.1f}x",
             verdict(ok)],
        ],
    )  # fmt: skip
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workspaces", type=int, default=200)
    args = parser.parse_args()
    reason = browser_unavailable_reason()
    if reason is not None:
        print(f"dashboard_load: skipped: {reason}")
        return 0
    exit_on_sigterm()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
