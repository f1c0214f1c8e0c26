// One workspace: details, TTL, actions, operations with live progress, snapshots, logs, files
// and the terminal.
import { api, workspacePath } from "./api.js";
import { actionButtons } from "./actions.js";
import { allowed, store, subscribe, upsertWorkspace, emit } from "./store.js";
import { button, confirmAction, h, showError, statusBadge, ticking, toast, when } from "./ui.js";
import { openTerminal } from "./terminal.js";

const SNAPSHOT_OPERATIONS = new Set(["snapshot", "snapshot_restore", "snapshot_delete"]);

function section(title, id, ...children) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), ...children);
}

export function renderWorkspace(view, id, navigate) {
  let workspace = store.workspaces.get(id) || null;
  const operations = new Map();
  const openLogs = new Map(); // operation id -> <pre> showing its progress lines
  let terminal = null;
  let follow = null;

  const header = h("div", { class: "row head" });
  const details = h("dl", { class: "details" });
  const opsBody = h("tbody", { id: "operation-rows" });
  const snapsBody = h("tbody", { id: "snapshot-rows" });

  function drawHeader() {
    if (!workspace) return;
    header.replaceChildren(
      h("h1", {}, workspace.name), statusBadge(workspace.status),
      h("span", { class: "spacer" }), ...actionButtons(workspace),
    );
    const resources = [workspace.cpus && `${workspace.cpus} CPU`, workspace.memory_mb && `${workspace.memory_mb} MB`].filter(Boolean).join(", ");
    const pairs = [
      ["Id", h("code", {}, workspace.id)], ["Owner", workspace.owner], ["Template", workspace.template || "—"],
      ["Provider", workspace.host ? `${workspace.provider} on ${workspace.host}` : workspace.provider],
      ["Resources", resources || "—"],
      ["Repository", workspace.repo_url ? `${workspace.repo_url}${workspace.repo_ref ? ` @ ${workspace.repo_ref}` : ""}` : "—"],
      ["Created", when(workspace.created_at)],
      ["Time to live", h("span", {}, ticking(workspace.expires_at), " ",
        button("+1 hour", () => extend(3600), { class: "small", id: "ttl-hour" }),
        button("+1 day", () => extend(86400), { class: "small", id: "ttl-day" }),
        button("No limit", () => setTtl(null), { class: "small ghost", id: "ttl-clear" }))],
    ];
    if (workspace.error_message) pairs.push(["Error", h("span", { class: "error" }, workspace.error_message)]);
    if (workspace.host_unreachable) pairs.push(["Host", h("span", { class: "error", id: "host-unreachable" }, workspace.host_unreachable)]);
    details.replaceChildren(...pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    document.getElementById("open-terminal").disabled =
      Boolean(terminal) || workspace.status !== "running" || Boolean(workspace.host_unreachable);
    document.getElementById("snapshot-create").disabled = !allowed("snapshot", workspace.status);
  }

  async function setTtl(seconds) {
    try {
      const updated = await api(workspacePath(id), { method: "PATCH", body: { ttl_seconds: seconds } });
      if (upsertWorkspace(updated)) emit("workspace.status", { workspace: updated, status: updated.status });
      toast(seconds === null ? "No time limit" : `Expires ${new Date(updated.expires_at).toLocaleString()}`);
    } catch (error) {
      showError(error);
    }
  }

  function extend(extra) {
    const left = workspace.expires_at ? Math.max(0, Math.round((Date.parse(workspace.expires_at) - Date.now()) / 1000)) : 0;
    return setTtl(Math.min(left + extra, 365 * 24 * 3600));
  }

  // --- operations ---
  function opRow(op) {
    const logButton = button(openLogs.has(op.id) ? "Hide progress" : "Progress", () => toggleLog(op.id), { class: "small ghost" });
    return h("tr", { dataset: { operation: op.id, status: op.status, type: op.operation_type } },
      h("td", {}, op.operation_type), h("td", {}, statusBadge(op.status)),
      h("td", {}, when(op.started_at)), h("td", { class: "progress" }, op.error ? h("span", { class: "error" }, op.error) : op.progress || ""),
      h("td", {}, op.requested_by || ""), h("td", {}, logButton));
  }

  function drawOperations() {
    const rows = [];
    for (const op of [...operations.values()].sort((a, b) => (a.started_at < b.started_at ? 1 : -1))) {
      rows.push(opRow(op));
      if (openLogs.has(op.id)) rows.push(h("tr", { class: "log-row" }, h("td", { colspan: 6 }, openLogs.get(op.id))));
    }
    opsBody.replaceChildren(...rows);
  }

  async function toggleLog(opId) {
    if (openLogs.has(opId)) {
      openLogs.delete(opId);
      drawOperations();
      return;
    }
    const pre = h("pre", { class: "log", "aria-label": "Progress lines" }, "…");
    openLogs.set(opId, pre);
    drawOperations();
    try {
      const answer = await api(`/api/v1/operations/${encodeURIComponent(opId)}/logs`);
      const lines = Array.isArray(answer) ? answer : answer.lines || [];
      pre.textContent = lines.map((item) => (typeof item === "string" ? item : item.line)).join("\n") || "(no progress lines)";
    } catch (error) {
      pre.textContent = error.status === 404 ? "(no progress log for this operation)" : `${error.message} (${error.code})`;
    }
  }

  // --- snapshots ---
  async function loadSnapshots() {
    try {
      const list = await api(workspacePath(id, "/snapshots"));
      snapsBody.replaceChildren(...list.map((snap) => h("tr", { dataset: { snapshot: snap.id, status: snap.status } },
        h("td", {}, snap.name), h("td", {}, statusBadge(snap.status)), h("td", {}, when(snap.created_at)),
        h("td", {}, snap.size_bytes == null ? "—" : `${(snap.size_bytes / 1048576).toFixed(1)} MiB`),
        h("td", { class: "actions" },
          button("Restore", () => restore(snap), { class: "small", dataset: { action: "restore" }, disabled: snap.status !== "ready" || !allowed("restore", workspace && workspace.status) }),
          button("Delete", () => removeSnapshot(snap), { class: "small danger", dataset: { action: "delete-snapshot" } })))));
      document.getElementById("no-snapshots").hidden = list.length > 0;
    } catch (error) {
      if (error.status !== 404) showError(error);
    }
  }

  async function restore(snap) {
    if (!(await confirmAction(`Restore "${snap.name}"?`, "The workspace goes back to this snapshot. Changes made since are lost.", "Restore"))) return;
    try {
      await api(workspacePath(id, `/snapshots/${encodeURIComponent(snap.id)}/restore`), { method: "POST" });
      toast(`Restoring ${snap.name}`);
    } catch (error) {
      showError(error);
    }
  }

  async function removeSnapshot(snap) {
    if (!(await confirmAction(`Delete snapshot "${snap.name}"?`, "The snapshot is removed for good.", "Delete"))) return;
    try {
      await api(workspacePath(id, `/snapshots/${encodeURIComponent(snap.id)}`), { method: "DELETE" });
      toast(`Deleting snapshot ${snap.name}`);
    } catch (error) {
      showError(error);
    }
  }

  const snapshotName = h("input", { id: "snapshot-name", name: "name", autocomplete: "off", placeholder: "Before refactor" });
  const snapshotForm = h("form", { class: "row", id: "snapshot-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api(workspacePath(id, "/snapshots"), { method: "POST", body: { name: snapshotName.value } });
      snapshotName.value = "";
      await loadSnapshots();
    } catch (error) {
      showError(error);
    }
  } }, h("label", {}, "Name ", snapshotName), h("button", { type: "submit", id: "snapshot-create" }, "Take snapshot"));

  // --- logs ---
  const logTail = h("input", { id: "log-tail", value: "200", inputmode: "numeric", size: 5 });
  const logOut = h("pre", { class: "log", id: "log-output", tabindex: 0, "aria-label": "Workspace logs" });
  async function showLogs() {
    stopFollow();
    try {
      logOut.textContent = await api(workspacePath(id, `/logs?tail=${encodeURIComponent(logTail.value)}`)) || "(no output)";
    } catch (error) {
      logOut.textContent = `${error.message} (${error.code})`;
    }
  }
  function stopFollow() {
    if (follow) follow.abort();
    follow = null;
    followButton.textContent = "Follow";
  }
  async function startFollow() {
    if (follow) return stopFollow();
    follow = new AbortController();
    followButton.textContent = "Stop following";
    logOut.textContent = "";
    try {
      const response = await api(workspacePath(id, `/logs?tail=${encodeURIComponent(logTail.value)}&follow=true`), { raw: true, signal: follow.signal });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        logOut.textContent += decoder.decode(value, { stream: true });
        logOut.scrollTop = logOut.scrollHeight;
      }
    } catch (error) {
      if (error.name !== "AbortError") logOut.textContent += `\n${error.message} (${error.code || "ERROR"})`;
    }
    follow = null;
    followButton.textContent = "Follow";
  }
  const followButton = button("Follow", startFollow, { id: "log-follow" });

  // --- files ---
  const downloadPath = h("input", { id: "download-path", value: ".", autocomplete: "off" });
  const uploadFile = h("input", { id: "upload-file", type: "file" });
  const uploadPath = h("input", { id: "upload-path", autocomplete: "off", placeholder: "path in the workspace (default: the file's name)" });
  // A .tar (or .tar.gz, .tgz, .tar.xz, ...) chosen with this ticked is unpacked into a folder.
  const uploadUnpack = h("input", { id: "upload-unpack", type: "checkbox" });
  const filesOut = h("p", { id: "files-result", class: "muted", role: "status" });
  async function download() {
    try {
      const response = await api(workspacePath(id, `/files?path=${encodeURIComponent(downloadPath.value)}`), { raw: true });
      const disposition = response.headers.get("content-disposition") || "";
      const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
      const name = match ? decodeURIComponent(match[1]) : downloadPath.value.split("/").pop() || "download";
      const blob = await response.blob();
      const link = h("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      filesOut.textContent = `Downloaded ${name} (${blob.size} bytes)`;
    } catch (error) {
      filesOut.textContent = `${error.message} (${error.code})`;
    }
  }
  async function upload(event) {
    event.preventDefault();
    const file = uploadFile.files && uploadFile.files[0];
    if (!file) {
      filesOut.textContent = "Choose a file first";
      return;
    }
    const unpack = uploadUnpack.checked;
    const path = uploadPath.value.trim() || (unpack ? "." : file.name);
    const type = unpack ? "application/x-tar" : "application/octet-stream";
    try {
      const answer = await api(workspacePath(id, `/files?path=${encodeURIComponent(path)}`), { method: "PUT", body: file, headers: { "content-type": type } });
      filesOut.textContent = unpack
        ? `Unpacked ${answer.files} file${answer.files === 1 ? "" : "s"} (${answer.size_bytes} bytes) into ${answer.path}`
        : `Uploaded ${answer.path} (${answer.size_bytes} bytes)`;
    } catch (error) {
      filesOut.textContent = `${error.message} (${error.code})`;
    }
  }

  // --- terminal ---
  const termBox = h("div", { class: "terminal", id: "terminal" });
  const termClose = button("Close terminal", closeTerminal, { id: "close-terminal", hidden: true });
  async function startTerminal() {
    const opener = document.getElementById("open-terminal");
    opener.disabled = true;
    try {
      terminal = await openTerminal(termBox, id, () => {
        termClose.textContent = "Clear";
      });
      termClose.hidden = false;
      termClose.textContent = "Close terminal";
    } catch (error) {
      terminal = null;
      opener.disabled = false;
      showError(error);
    }
  }
  function closeTerminal() {
    if (terminal) terminal.close();
    terminal = null;
    termBox.replaceChildren();
    termClose.hidden = true;
    drawHeader();
  }

  view.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, "← All workspaces")),
    header,
    section("Details", "details", details),
    section("Terminal", "terminal-card",
      h("div", { class: "row" }, button("Open terminal", startTerminal, { id: "open-terminal" }), termClose), termBox),
    section("Operations", "operations", h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["Type", "Status", "Started", "Progress", "By", ""].map((t) => h("th", { scope: "col" }, t)))), opsBody)),
    section("Snapshots", "snapshots", snapshotForm, h("p", { class: "muted", id: "no-snapshots" }, "No snapshots."),
      h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["Name", "Status", "Taken", "Size", ""].map((t) => h("th", { scope: "col" }, t)))), snapsBody)),
    section("Logs", "logs", h("div", { class: "row" }, h("label", {}, "Last lines ", logTail), button("Show logs", showLogs, { id: "log-show" }), followButton), logOut),
    section("Files", "files",
      h("div", { class: "row" }, h("label", {}, "Path ", downloadPath), button("Download", download, { id: "download" })),
      h("form", { class: "row", onsubmit: upload }, h("label", {}, "File ", uploadFile), h("label", {}, "To ", uploadPath), h("label", {}, uploadUnpack, " Unpack an archive into the folder"), h("button", { type: "submit", id: "upload" }, "Upload")),
      filesOut),
  );

  async function load() {
    try {
      const fresh = await api(workspacePath(id));
      if (upsertWorkspace(fresh) || !workspace) workspace = store.workspaces.get(id) || fresh;
      drawHeader();
      const ops = await api(`/api/v1/operations?workspace_id=${encodeURIComponent(id)}&limit=50`);
      for (const op of ops) if (!operations.has(op.id)) operations.set(op.id, op);
      drawOperations();
      await loadSnapshots();
    } catch (error) {
      if (error.status === 404) {
        view.replaceChildren(h("h1", {}, "Workspace not found"), h("p", {}, h("a", { href: "#/" }, "Back to the list")));
      } else showError(error);
    }
  }

  const unsubscribe = subscribe((type, data) => {
    if (type === "stream.resynced") {
      load();
      return;
    }
    if (type === "workspace.deleted" && data.workspace && data.workspace.id === id) {
      toast(`${data.workspace.name} was deleted`);
      navigate("#/");
      return;
    }
    if (type === "workspace.status" && data.workspace && data.workspace.id === id) {
      workspace = store.workspaces.get(id) || data.workspace;
      drawHeader();
      // A workspace on its way out has no snapshots to show, and its list would answer 404
      // as soon as the delete ends.
      if (!["deleting", "deleted"].includes(workspace.status)) loadSnapshots();
      return;
    }
    const op = data && data.operation;
    if (!type.startsWith("operation.") || !op || op.workspace_id !== id) return;
    const known = operations.get(op.id);
    operations.set(op.id, known && known.status !== "pending" && op.status === "pending" ? known : op);
    if (type === "operation.progress" && data.line && openLogs.has(op.id)) {
      const pre = openLogs.get(op.id);
      pre.textContent = pre.textContent === "(no progress lines)" || pre.textContent === "…" ? data.line : `${pre.textContent}\n${data.line}`;
    }
    drawOperations();
    if (type === "operation.finished" && SNAPSHOT_OPERATIONS.has(op.operation_type)) loadSnapshots();
  });

  if (workspace) drawHeader();
  load();
  return () => {
    unsubscribe();
    stopFollow();
    if (terminal) terminal.close();
  };
}
