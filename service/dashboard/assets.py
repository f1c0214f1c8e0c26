"""Which files the dashboard serves: a fixed list, looked up by name, never a path from the URL.

Our own files live in static/. Third-party code (xterm.js) comes from the npm registry at
install time: `npm ci` in this folder fills node_modules/ (git ignores it), and only the few
files the page loads are served from there.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
NODE_MODULES = HERE / "node_modules"

# name in the URL -> file under node_modules/
VENDOR_FILES = {
    "xterm.mjs": "@xterm/xterm/lib/xterm.mjs",
    "xterm.css": "@xterm/xterm/css/xterm.css",
    "addon-fit.mjs": "@xterm/addon-fit/lib/addon-fit.mjs",
}
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    path: Path
    content_type: str


def _content_type(name: str) -> str:
    suffix = Path(name).suffix
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _own_files() -> dict[str, Path]:
    # Listed once, at import: a file added to static/ at run time is not served.
    return {path.name: path for path in STATIC_DIR.iterdir() if path.is_file()}


OWN_FILES = _own_files()


def own_asset(name: str) -> Asset | None:
    path = OWN_FILES.get(name)
    return None if path is None else Asset(path, _content_type(name))


def vendor_asset(name: str) -> Asset | None:
    relative = VENDOR_FILES.get(name)
    if relative is None:
        return None
    path = NODE_MODULES / relative
    return Asset(path, _content_type(name)) if path.is_file() else None


def missing_vendor_files() -> list[str]:
    """The npm files that are not installed (empty once `npm ci` ran)."""
    return [path for path in VENDOR_FILES.values() if not (NODE_MODULES / path).is_file()]
