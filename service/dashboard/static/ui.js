// Small DOM helpers: elements are built, never parsed from strings, so API text stays text.
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, label);
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

export function showError(error) {
  toast(error.code ? `${error.message} (${error.code})` : String(error.message || error), "error");
}

// A modal <dialog>: the browser traps focus in it and closes it on Escape.
export function confirmAction(title, text, confirmLabel = "Confirm") {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-text").textContent = text;
  dialog.querySelector("#confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "cancel";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

export function statusBadge(status) {
  return h("span", { class: "status", dataset: { status } }, status);
}

export function when(text) {
  if (!text) return "—";
  const date = new Date(text);
  return h("time", { datetime: text, title: date.toLocaleString() }, date.toLocaleString());
}

export function countdown(expiresAt) {
  if (!expiresAt) return "no limit";
  const seconds = Math.round((Date.parse(expiresAt) - Date.now()) / 1000);
  if (seconds <= 0) return "expired";
  const d = Math.floor(seconds / 86400);
  const hh = Math.floor((seconds % 86400) / 3600);
  const mm = Math.floor((seconds % 3600) / 60);
  const ss = seconds % 60;
  if (d) return `${d}d ${hh}h left`;
  if (hh) return `${hh}h ${mm}m left`;
  return `${mm}m ${String(ss).padStart(2, "0")}s left`;
}

// One timer for every countdown on the page (no request: the expiry time is in the workspace).
export function ticking(expiresAt) {
  return h("span", { class: "ttl", dataset: { expires: expiresAt || "" } }, countdown(expiresAt));
}

setInterval(() => {
  for (const element of document.querySelectorAll(".ttl[data-expires]")) {
    element.textContent = countdown(element.dataset.expires);
  }
}, 1000);
