// The admin task view: the queue overview (GET /api/v1/admin/queue) and the tasks of one state
// (GET /api/v1/admin/tasks?state=...), with revoke and retry. Everyone else gets a 403.
import { api } from "./api.js";
import { button, confirmAction, h, showError, toast, when } from "./ui.js";

const STATES = ["recent", "pending", "scheduled", "running"];
const COLUMNS = [
  ["task", "Task"], ["outcome", "Outcome"], ["operation_status", "Operation"], ["enqueued_at", "Enqueued"],
  ["started_at", "Started"], ["duration", "Seconds"], ["retries", "Retries"], ["error", "Error"],
];

function cell(key, value) {
  if (value === null || value === undefined) return "";
  if (key.endsWith("_at")) return when(value);
  if (typeof value === "number" && key === "duration") return value.toFixed(2);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function overview(data) {
  if (!data || typeof data !== "object") return null;
  const pairs = Object.entries(data).map(([key, value]) => [key.replaceAll("_", " "), typeof value === "object" && value !== null ? JSON.stringify(value) : String(value ?? "—")]);
  return h("dl", { class: "details", id: "queue-overview" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function renderTasks(view) {
  let state = "recent";
  const out = h("div", { id: "tasks-body" }, h("p", { class: "muted" }, "Loading…"));
  const picker = h("select", { id: "task-state", "aria-label": "Which tasks", onchange: (e) => { state = e.target.value; load(); } },
    STATES.map((name) => h("option", { value: name }, name)));

  async function revoke(row) {
    if (!(await confirmAction(`Revoke ${row.task}?`, "The task will not run; its operation is cancelled.", "Revoke"))) return;
    try {
      await api(`/api/v1/admin/tasks/${encodeURIComponent(row.task_id)}/revoke`, { method: "POST" });
      toast(`Revoked ${row.task}`);
      load();
    } catch (error) {
      showError(error);
    }
  }

  async function retry(row) {
    try {
      await api(`/api/v1/admin/operations/${encodeURIComponent(row.operation_id)}/retry`, { method: "POST" });
      toast(`Retrying the operation of ${row.task}`);
      load();
    } catch (error) {
      showError(error);
    }
  }

  function table(rows) {
    if (!rows.length) return h("p", { class: "muted" }, `No ${state} tasks.`);
    return h("table", { class: "grid", id: "tasks" },
      h("thead", {}, h("tr", {}, [...COLUMNS.map(([, title]) => h("th", { scope: "col" }, title)), h("th", { scope: "col" }, "")])),
      h("tbody", {}, rows.map((row) => h("tr", { dataset: { task: row.task_id || "" } },
        COLUMNS.map(([key]) => h("td", {}, cell(key, row[key]))),
        h("td", { class: "actions" },
          (state === "pending" || state === "scheduled") && row.task_id ? button("Revoke", () => revoke(row), { class: "small danger" }) : null,
          row.operation_status === "failed" && row.operation_id ? button("Retry", () => retry(row), { class: "small" }) : null)))));
  }

  async function load() {
    try {
      const [queue, rows] = await Promise.all([
        api("/api/v1/admin/queue").catch((error) => (error.status === 404 ? null : Promise.reject(error))),
        api(`/api/v1/admin/tasks?state=${state}&limit=100`),
      ]);
      out.replaceChildren(...[overview(queue), Array.isArray(rows) ? table(rows) : h("pre", { class: "log" }, JSON.stringify(rows, null, 2))].filter(Boolean));
    } catch (error) {
      out.replaceChildren(h("p", { class: "error", role: "alert" },
        error.status === 403 ? "Only administrators see the task view." : `${error.message} (${error.code})`));
    }
  }
  view.replaceChildren(
    h("div", { class: "row head" }, h("h1", {}, "Tasks"), h("label", {}, "State ", picker), h("span", { class: "spacer" }), button("Refresh", load, { id: "tasks-refresh" })),
    out,
  );
  load();
  return () => {};
}
