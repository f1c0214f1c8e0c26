// Lifecycle actions, shared by the list and the workspace page.
import { api, workspacePath } from "./api.js";
import { allowed, upsertWorkspace, emit } from "./store.js";
import { button, confirmAction, showError, toast } from "./ui.js";

const DESTRUCTIVE = {
  rebuild: "Rebuild replaces the container from its template. Files outside the workspace folder are lost.",
  delete: "Delete removes the workspace, its container, its files and every snapshot. This cannot be undone.",
};

export async function runAction(workspace, action) {
  if (DESTRUCTIVE[action]) {
    const ok = await confirmAction(`${action[0].toUpperCase()}${action.slice(1)} ${workspace.name}?`, DESTRUCTIVE[action], action === "delete" ? "Delete" : "Rebuild");
    if (!ok) return null;
  }
  try {
    const answer = action === "delete"
      ? await api(workspacePath(workspace.id), { method: "DELETE" })
      : await api(workspacePath(workspace.id, `/${action}`), { method: "POST" });
    const { operation_id: _, ...updated } = answer;
    if (upsertWorkspace(updated)) emit("workspace.status", { workspace: updated, status: updated.status });
    toast(`${action}: ${workspace.name} is ${updated.status}`);
    return answer;
  } catch (error) {
    showError(error);
    return null;
  }
}

export function actionButtons(workspace) {
  return ["start", "stop", "restart", "rebuild", "delete"].map((action) =>
    button(action[0].toUpperCase() + action.slice(1), () => runAction(workspace, action), {
      class: action === "delete" ? "danger small" : "small",
      disabled: !allowed(action, workspace.status),
      dataset: { action, workspace: workspace.id },
      "aria-label": `${action} ${workspace.name}`,
    }),
  );
}
