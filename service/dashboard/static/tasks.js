// The admin task view: GET /api/v1/admin/tasks as a table (403 for everyone else).
import { api } from "./api.js";
import { button, h } from "./ui.js";

function cell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function table(items) {
  const columns = [...new Set(items.flatMap((item) => Object.keys(item)))];
  return h("table", { class: "grid", id: "tasks" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, items.map((item) => h("tr", {}, columns.map((c) => h("td", {}, cell(item[c])))))));
}

export function renderTasks(view) {
  const out = h("div", { id: "tasks-body" }, h("p", { class: "muted" }, "Loading…"));
  async function load() {
    try {
      const answer = await api("/api/v1/admin/tasks");
      const parts = [];
      if (Array.isArray(answer)) parts.push(answer.length ? table(answer) : h("p", {}, "No tasks."));
      else {
        for (const [key, value] of Object.entries(answer || {})) {
          parts.push(h("h2", {}, key));
          if (Array.isArray(value) && value.length && typeof value[0] === "object") parts.push(table(value));
          else parts.push(h("pre", { class: "log" }, JSON.stringify(value, null, 2)));
        }
      }
      out.replaceChildren(...parts);
    } catch (error) {
      out.replaceChildren(h("p", { class: "error", role: "alert" },
        error.status === 403 ? "Only administrators see the task view." : `${error.message} (${error.code})`));
    }
  }
  view.replaceChildren(h("div", { class: "row head" }, h("h1", {}, "Tasks"), h("span", { class: "spacer" }), button("Refresh", load)), out);
  load();
  return () => {};
}
