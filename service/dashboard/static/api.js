// The API client: same origin; in local development the caller's name goes as `x-user`
// (behind the auth proxy the proxy names the caller and ignores that header).
const USER_KEY = "vm-api.user";

export function storedUser() {
  return localStorage.getItem(USER_KEY) || "";
}

export function storeUser(name) {
  if (name) localStorage.setItem(USER_KEY, name);
  else localStorage.removeItem(USER_KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || `HTTP_${status}`;
    this.body = body || {};
  }
}

export function identityHeaders(extra = {}) {
  const headers = new Headers(extra);
  const user = storedUser();
  if (user) headers.set("x-user", user);
  return headers;
}

async function errorOf(response) {
  try {
    return new ApiError(response.status, await response.json());
  } catch {
    return new ApiError(response.status, { error: response.statusText, code: `HTTP_${response.status}` });
  }
}

// JSON in, JSON out; `raw: true` returns the Response (downloads, streams); a Blob or
// ArrayBuffer body goes as it is (uploads).
export async function api(path, { method = "GET", body, headers = {}, raw = false, signal } = {}) {
  const sent = identityHeaders(headers);
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) {
    sent.set("content-type", "application/json");
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers: sent, body: payload, signal, credentials: "same-origin" });
  if (!response.ok) throw await errorOf(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const workspacePath = (id, rest = "") => `/api/v1/workspaces/${encodeURIComponent(id)}${rest}`;
