// The playground: a chat streamed through the gateway's own /v1/chat/completions, with the
// API key the person types (or hands over from a just-created key), kept in memory only.
import { get, session } from "./api.js";
import { field, formValues, h, select } from "./dom.js";
import { failed, page } from "./ui.js";

export async function playgroundPage(main) {
  const models = (await get("/console/models")).data.filter((m) => m.status === "active");
  const key = h("input", { id: "f-key", name: "key", type: "password", autocomplete: "off", placeholder: session.playgroundKey ? "the key you just created" : "sk-…" });
  const out = h("div", { class: "output", id: "playground-output", "aria-live": "polite" });
  const stats = h("p", { class: "muted", id: "playground-stats" });
  const form = h(
    "form",
    { class: "card grid", "aria-label": "Chat" },
    field("Model", select("model", models.map((m) => m.name), models[0]?.name)),
    field("API key", key),
    field("Message", h("textarea", { name: "message", id: "f-message", required: true }, "Say hello in five words."), { class: "wide" }),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "stream", checked: true }), "Stream"),
    h("div", { class: "actions wide" }, h("button", { type: "submit" }, "Send")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = formValues(form);
    const secret = v.key || session.playgroundKey;
    if (!secret) return failed(new Error("Type an API key, or create one and choose “Use in playground”."));
    out.textContent = "";
    stats.textContent = "…";
    try {
      await chat(secret, v, out, stats);
    } catch (e) {
      failed(e);
    }
  });
  main.replaceChildren(...page("Playground", form, out, stats));
}

async function chat(secret, v, out, stats) {
  const started = performance.now();
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model: v.model, stream: v.stream, stream_options: v.stream ? { include_usage: true } : undefined, messages: [{ role: "user", content: v.message }] }),
  });
  const channel = response.headers.get("X-Bella-Channel") || "";
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error?.message || `HTTP ${response.status}`);
  }
  if (!v.stream) {
    const body = await response.json();
    out.textContent = body.choices?.[0]?.message?.content ?? "";
    stats.textContent = `channel ${channel} · ${Math.round(performance.now() - started)} ms`;
    return;
  }
  let first = 0, usage = null, buffer = "";
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const events = buffer.split("\n\n");
    buffer = events.pop();
    for (const event of events) {
      const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("");
      if (!data || data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      const text = chunk.choices?.[0]?.delta?.content;
      if (text) {
        first ||= performance.now();
        out.append(text);
      }
      if (chunk.usage) usage = chunk.usage;
    }
  }
  const ttft = first ? `first token ${Math.round(first - started)} ms · ` : "";
  const tokens = usage ? `${usage.prompt_tokens} + ${usage.completion_tokens} tokens · ` : "";
  stats.textContent = `${ttft}${tokens}total ${Math.round(performance.now() - started)} ms · channel ${channel}`;
}
