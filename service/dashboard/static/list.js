// The workspace list and the create dialog.
import { api } from "./api.js";
import { actionButtons } from "./actions.js";
import { store, subscribe, upsertWorkspace, emit } from "./store.js";
import { button, h, statusBadge, ticking, when } from "./ui.js";

function row(workspace, admin) {
  return h(
    "tr",
    { dataset: { workspace: workspace.id, status: workspace.status } },
    h("td", {}, h("a", { href: `#/w/${workspace.id}`, class: "ws-link" }, workspace.name)),
    h("td", {}, statusBadge(workspace.status), workspace.host_unreachable
      ? h("span", { class: "badge host-down", title: workspace.host_unreachable }, "host down")
      : null),
    admin ? h("td", {}, workspace.owner) : null,
    h("td", {}, workspace.template || "—"),
    h("td", {}, ticking(workspace.expires_at)),
    h("td", {}, when(workspace.created_at)),
    h("td", { class: "actions" }, actionButtons(workspace)),
  );
}

function sorted() {
  return [...store.workspaces.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
}

export function renderList(view) {
  const admin = Boolean(store.me && store.me.admin);
  const body = h("tbody", { id: "workspace-rows" });
  const empty = h("p", { class: "muted", id: "no-workspaces" }, "No workspaces yet.");
  const table = h(
    "table",
    { class: "grid", id: "workspaces" },
    h("caption", { class: "sr-only" }, "Workspaces"),
    h("thead", {}, h("tr", {},
      ["Name", "Status", admin ? "Owner" : null, "Template", "Time to live", "Created", "Actions"]
        .filter(Boolean).map((title) => h("th", { scope: "col" }, title)))),
    body,
  );

  function fill() {
    // Keep keyboard focus on the same button when a row is redrawn.
    const focused = document.activeElement && document.activeElement.dataset;
    const keep = focused && focused.workspace ? { ...focused } : null;
    body.replaceChildren(...sorted().map((workspace) => row(workspace, admin)));
    empty.hidden = store.workspaces.size > 0;
    table.hidden = store.workspaces.size === 0;
    if (keep) {
      const again = body.querySelector(`button[data-workspace="${keep.workspace}"][data-action="${keep.action}"]`);
      if (again && !again.disabled) again.focus();
    }
  }

  view.replaceChildren(
    h("div", { class: "row head" },
      h("h1", {}, admin ? "All workspaces" : "Your workspaces"),
      h("span", { class: "spacer" }),
      button("New workspace", openCreate, { id: "new-workspace" })),
    empty,
    table,
  );
  fill();
  return subscribe((type) => {
    if (type.startsWith("workspace.") || type === "workspaces.loaded") fill();
  });
}

// --- create -------------------------------------------------------------------------------

function templateHelp(name) {
  const template = store.templates.find((t) => t.name === name);
  const help = document.getElementById("create-template-help");
  const cpus = document.getElementById("create-cpus");
  const memory = document.getElementById("create-memory");
  if (!template) {
    help.textContent = "";
    return;
  }
  help.textContent = `${template.description || template.image} — ${template.cpus ?? "?"} CPU, ${template.memory_mb ?? "?"} MB by default; at most ${template.max_cpus ?? template.cpus ?? "?"} CPU, ${template.max_memory_mb ?? template.memory_mb ?? "?"} MB.`;
  cpus.placeholder = template.cpus ?? "";
  memory.placeholder = template.memory_mb ?? "";
}

function numberOrText(value) {
  // Sent as typed when it is not a number, so that the API's own message explains it.
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

export function openCreate() {
  const dialog = document.getElementById("create-dialog");
  const form = document.getElementById("create-form");
  const select = document.getElementById("create-template");
  form.reset();
  document.getElementById("create-error").textContent = "";
  select.replaceChildren(...store.templates.map((t) => h("option", { value: t.name }, t.name)));
  templateHelp(select.value);
  dialog.showModal();
  document.getElementById("create-name").focus();
}

export function installCreateDialog(navigate) {
  const dialog = document.getElementById("create-dialog");
  const form = document.getElementById("create-form");
  const error = document.getElementById("create-error");
  document.getElementById("create-template").addEventListener("change", (e) => templateHelp(e.target.value));
  document.getElementById("create-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: String(data.get("name") || "") };
    const template = data.get("template");
    if (template) body.template = template;
    for (const field of ["cpus", "memory_mb"]) {
      const value = numberOrText(String(data.get(field) || ""));
      if (value !== undefined) body[field] = value;
    }
    const repo = String(data.get("repo_url") || "").trim();
    if (repo) body.repo_url = repo;
    const ref = String(data.get("repo_ref") || "").trim();
    if (ref) body.repo_ref = ref;
    const ttl = String(data.get("ttl") || "");
    if (ttl) body.ttl_seconds = Number(ttl);
    const submit = document.getElementById("create-submit");
    submit.disabled = true;
    error.textContent = "";
    try {
      const workspace = await api("/api/v1/workspaces", { method: "POST", body });
      if (upsertWorkspace(workspace)) emit("workspace.status", { workspace, status: workspace.status });
      dialog.close();
      navigate("#/");
    } catch (failure) {
      error.textContent = `${failure.message} (${failure.code})`;
    } finally {
      submit.disabled = false;
    }
  });
}
