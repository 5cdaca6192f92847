// Shared page pieces: status messages, confirmations, JSON fields.
import { h, replace } from "./dom.js";

export function say(text, kind = "ok") {
  const box = document.getElementById("status");
  replace(box, h("div", { class: `msg ${kind}` }, text));
  if (kind === "ok") setTimeout(() => box.firstChild?.textContent === text && replace(box), 4000);
}

export function clearStatus() {
  replace(document.getElementById("status"));
}

export function failed(error) {
  const where = error.param ? ` (${error.param})` : "";
  say(`${error.message}${where}`, "error");
}

// Run an action, reporting failures; returns its result or undefined.
export async function attempt(action, done) {
  try {
    const result = await action();
    if (done) say(done);
    return result;
  } catch (e) {
    failed(e);
    return undefined;
  }
}

export function parseJson(text, name) {
  if (!text.trim()) return {};
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    /* reported below */
  }
  throw Object.assign(new Error(`${name} must be a JSON object`), { param: name });
}

export function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}

export function page(title, ...children) {
  return [h("h1", { tabindex: "-1" }, title), ...children];
}
