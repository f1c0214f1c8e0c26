// What the page knows: the caller, the templates and the visible workspaces, kept current by
// the events stream. Views subscribe while they are shown.
export const store = {
  me: null,
  templates: [],
  workspaces: new Map(),
  deleted: new Set(),
  listeners: new Set(),
};

export function subscribe(listener) {
  store.listeners.add(listener);
  return () => store.listeners.delete(listener);
}

export function emit(type, payload) {
  for (const listener of [...store.listeners]) listener(type, payload);
}

// Events and list answers can arrive in either order: keep the newer copy.
export function upsertWorkspace(workspace) {
  if (store.deleted.has(workspace.id)) return false;
  const known = store.workspaces.get(workspace.id);
  if (known && known.updated_at > workspace.updated_at) return false;
  store.workspaces.set(workspace.id, workspace);
  return true;
}

export function forgetWorkspace(id) {
  store.deleted.add(id);
  store.workspaces.delete(id);
}

// What each action may start from: models/states.py TRANSITIONS, so buttons that would only
// get a 409 are disabled.
const ALLOWED = {
  start: ["stopped"],
  stop: ["running"],
  restart: ["running", "stopped"],
  rebuild: ["running", "stopped", "failed"],
  delete: ["creating", "running", "starting", "stopping", "stopped", "restarting", "restoring", "failed"],
  snapshot: ["running", "stopped"],
  restore: ["running", "stopped", "failed"],
};

export const allowed = (action, status) => (ALLOWED[action] || []).includes(status);
