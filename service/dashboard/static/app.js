// The dashboard: identity, the live events stream, the router and the theme.
import "./nonce.js";
import { api, storedUser, storeUser } from "./api.js";
import { EventStream } from "./events.js";
import { installCreateDialog, renderList } from "./list.js";
import { emit, forgetWorkspace, store, upsertWorkspace } from "./store.js";
import { renderTasks } from "./tasks.js";
import { h } from "./ui.js";
import { renderWorkspace } from "./workspace.js";

const THEME_KEY = "vm-api.theme";
const view = document.getElementById("view");
let unmount = () => {};
let stream = null;

// --- theme: the system's choice unless the person picked one --------------------------------
function effectiveTheme() {
  return document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  const toggle = document.getElementById("theme");
  const dark = effectiveTheme() === "dark";
  toggle.textContent = dark ? "Light theme" : "Dark theme";
  toggle.setAttribute("aria-pressed", String(dark));
}

function installTheme() {
  applyTheme(localStorage.getItem(THEME_KEY));
  document.getElementById("theme").addEventListener("click", () => {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
  });
}

// --- routing ---------------------------------------------------------------------------------
function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  unmount();
  const hash = location.hash || "#/";
  const workspace = /^#\/w\/([0-9a-fA-F-]{36})$/.exec(hash);
  if (workspace) unmount = renderWorkspace(view, workspace[1], navigate);
  else if (hash === "#/tasks") unmount = renderTasks(view);
  else unmount = renderList(view);
  document.getElementById("main").focus({ preventScroll: true });
}

// --- identity --------------------------------------------------------------------------------
function askForUser(message = "") {
  const dialog = document.getElementById("user-dialog");
  const input = document.getElementById("user-name");
  document.getElementById("user-error").textContent = message;
  input.value = storedUser();
  // Escape would leave the page with nobody to ask for: only once a name is known.
  dialog.oncancel = (event) => {
    if (!storedUser()) event.preventDefault();
  };
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    const form = document.getElementById("user-form");
    const submit = (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) {
        document.getElementById("user-error").textContent = "Enter a user name";
        return;
      }
      form.removeEventListener("submit", submit);
      storeUser(name);
      dialog.close();
      resolve(name);
    };
    form.addEventListener("submit", submit);
  });
}

// Behind the proxy /me answers at once; in local development it is a 401 until a name is given.
async function identify() {
  for (;;) {
    try {
      return await api("/api/v1/me");
    } catch (error) {
      if (error.status !== 401 && error.status !== 400) throw error;
      await askForUser(storedUser() ? `${error.message} (${error.code})` : "");
    }
  }
}

function showIdentity() {
  const who = document.getElementById("who");
  who.hidden = false;
  who.textContent = `${store.me.user}${store.me.admin ? " (admin)" : ""}`;
  who.title = "Change user (local development)";
  document.getElementById("nav-tasks").hidden = !store.me.admin;
}

// --- live events -----------------------------------------------------------------------------
function onEvent(type, data) {
  if (type === "workspace.deleted" && data.workspace) forgetWorkspace(data.workspace.id);
  else if (type === "workspace.status" && data.workspace) upsertWorkspace(data.workspace);
  emit(type, data);
}

function setLive(state, { reconnected = false, resumed = false } = {}) {
  const live = document.getElementById("live");
  live.textContent = state;
  live.dataset.state = state;
  if (reconnected && !resumed) {
    // Nothing to resume from (no event had arrived yet): read the list again instead.
    loadWorkspaces().then(() => emit("stream.resynced", {})).catch(() => {});
  }
}

async function loadWorkspaces() {
  const list = await api("/api/v1/workspaces?limit=1000");
  for (const workspace of list) upsertWorkspace(workspace);
  emit("workspaces.loaded", {});
}

async function start() {
  installTheme();
  installCreateDialog(navigate);
  store.me = await identify();
  showIdentity();
  // The stream first, then the list: whatever changes in between arrives as an event.
  stream = new EventStream("/api/v1/events", onEvent, setLive);
  stream.start();
  const [templates] = await Promise.all([api("/api/v1/templates"), loadWorkspaces()]);
  store.templates = templates;
  window.addEventListener("hashchange", route);
  route();
  // When the first view is on screen with every workspace (bench/dashboard_load.py reads it).
  performance.mark("vm-api:first-view");
}

document.getElementById("who").addEventListener("click", async () => {
  await askForUser();
  location.reload();
});
window.addEventListener("pagehide", () => stream && stream.stop());

start().catch((error) => {
  view.replaceChildren(h("p", { class: "error", role: "alert" }, `The dashboard could not start: ${error.message}`));
});
