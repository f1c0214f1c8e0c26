"""The web dashboard served at `/`: our own JavaScript modules and CSS (static/), one page
template, and xterm.js from the npm registry (node_modules/, filled by `npm ci`, never in git)."""
