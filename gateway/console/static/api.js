// The console's one way to the gateway: same-origin fetch with the session cookie, the
// CSRF token on every state-changing call, JSON in and out, OpenAI-shaped errors thrown.

export const session = { csrf: "", principal: null, playgroundKey: null };

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code || "";
    this.param = error?.param || null;
  }
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error);
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body ?? {});
export const patch = (path, body) => call("PATCH", path, body);

export const id = (value) => encodeURIComponent(value);

export async function loadSession() {
  try {
    const info = await get("/login/session");
    session.csrf = info.csrf;
    session.principal = info.principal;
    return info;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function keyLogin(key) {
  const info = await post("/login/key", { key });
  session.csrf = info.csrf;
  session.principal = info.principal;
  return info;
}

export async function logout() {
  await post("/login/logout");
  session.csrf = "";
  session.principal = null;
  session.playgroundKey = null;
}
