// The terminal: xterm.js (from npm, served under /dashboard/vendor/) over the terminal
// WebSocket. Browsers cannot set headers on a WebSocket, so a one-time ticket names the caller.
import { api, workspacePath } from "./api.js";

const VENDOR = "/dashboard/vendor";

function themeColors() {
  const style = getComputedStyle(document.documentElement);
  return {
    background: style.getPropertyValue("--term-bg").trim() || "#111",
    foreground: style.getPropertyValue("--term-fg").trim() || "#eee",
    cursor: style.getPropertyValue("--accent").trim() || "#6af",
  };
}

export async function openTerminal(container, workspaceId, onEnd) {
  if (document.body.dataset.frontend !== "installed") {
    throw new Error("xterm.js is not installed on the server: run make run or npm ci (see the notice above)");
  }
  const [{ Terminal }, { FitAddon }] = await Promise.all([
    import(`${VENDOR}/xterm.mjs`),
    import(`${VENDOR}/addon-fit.mjs`),
  ]);
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
    fontSize: 14,
    theme: themeColors(),
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(container);
  fit.fit();

  const ticket = await api(workspacePath(workspaceId, "/terminal/ticket"), { method: "POST" });
  const url = new URL(ticket.url, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("cols", String(term.cols));
  url.searchParams.set("rows", String(term.rows));
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const encoder = new TextEncoder();
  let ended = false;
  let exited = false;

  const sendResize = ({ cols, rows }) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols, rows }));
  };
  socket.addEventListener("open", () => {
    sendResize({ cols: term.cols, rows: term.rows });
    term.focus();
  });
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") {
      let message = null;
      try {
        message = JSON.parse(event.data);
      } catch {
        term.write(event.data);
        return;
      }
      if (message && message.type === "error") term.write(`\r\n[${message.error}]\r\n`);
      else if (message && message.type === "exit") {
        exited = true;
        term.write(`\r\n[the shell exited with code ${message.exit_code}]\r\n`);
      }
      return;
    }
    term.write(new Uint8Array(event.data));
  });
  socket.addEventListener("close", (event) => {
    ended = true;
    // After an exit the close's reason only repeats the exit code.
    if (!exited) term.write(`\r\n[terminal closed${event.reason ? `: ${event.reason}` : ""}]\r\n`);
    onEnd(event);
  });
  term.onData((data) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
  });
  term.onResize(sendResize);
  // Fitted on the next frame: fitting inside the observer would resize what it observes.
  const observer = new ResizeObserver(() => requestAnimationFrame(() => fit.fit()));
  observer.observe(container);

  return {
    close() {
      observer.disconnect();
      if (!ended && socket.readyState <= WebSocket.OPEN) socket.close(1000, "closed by the dashboard");
      term.dispose();
    },
  };
}
