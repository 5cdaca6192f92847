// Channels: live slot use, queue and cooldown; create/edit (credentials write-only); test call.
import { get, id, patch, post } from "./api.js";
import { field, formValues, h, input, pill, select, table } from "./dom.js";
import { attempt, page, parseJson, say } from "./ui.js";

let timer = null;

export async function channelsPage(main, meta) {
  clearInterval(timer);
  const [channels, models] = await Promise.all([get("/console/channels"), get("/console/models")]);
  const editor = h("div");
  const reload = () => channelsPage(main, meta);
  const show = (channel) => editor.replaceChildren(channelForm(channel, models.data, meta, reload));
  const rows = h("div");
  const render = (list) => rows.replaceChildren(channelTable(list, show, reload));
  render(channels.data);
  main.replaceChildren(
    ...page(
      "Channels",
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => show(null) }, "New channel")),
      editor,
      rows,
      h("p", { class: "muted" }, "Slots, queue and cooldown refresh every 3 seconds."),
    ),
  );
  timer = setInterval(async () => {
    if (!document.body.contains(rows)) return clearInterval(timer);
    try {
      render((await get("/console/channels")).data);
    } catch {
      clearInterval(timer);
    }
  }, 3000);
}

function slots(state) {
  const limit = state.slots_limit;
  const share = limit ? Math.min(state.slots_in_use / limit, 1) : 0;
  return h(
    "div",
    { title: "slots in use (all processes) / limit" },
    `${state.slots_in_use} / ${limit || "∞"}`,
    limit ? h("div", { class: "meter", role: "img", "aria-label": `${Math.round(share * 100)}% of slots in use` }, h("span", { "data-share": share.toFixed(2) })) : null,
  );
}

function channelTable(list, show, reload) {
  const view = table(
    [
      { title: "Code", cell: (c) => h("code", {}, c.code) },
      { title: "Model", cell: (c) => c.model || c.endpoint || "" },
      { title: "Protocol", cell: (c) => c.protocol },
      { title: "URL", cell: (c) => h("code", {}, c.url) },
      { title: "Weight", num: true, cell: (c) => c.weight },
      { title: "Priority", cell: (c) => c.priority },
      { title: "Slots", cell: (c) => slots(c.state) },
      { title: "Queue", num: true, cell: (c) => c.state.queue_depth },
      { title: "Cooldown", cell: (c) => (c.state.cooldown_s > 0 ? pill(`${Math.ceil(c.state.cooldown_s)} s`, "cool") : pill("healthy", "ok")) },
      { title: "Status", cell: (c) => pill(c.status) },
      { title: "Actions", cell: (c) => actions(c, show, reload) },
    ],
    list,
  );
  // Meter widths are set through the CSSOM (the CSP allows no inline style attributes).
  for (const bar of view.querySelectorAll("[data-share]")) bar.style.width = `${Number(bar.dataset.share) * 100}%`;
  return view;
}

function actions(c, show, reload) {
  const toggle = c.status === "active" ? "deactivate" : "activate";
  return h(
    "div",
    { class: "actions" },
    h("button", { type: "button", class: "quiet", onclick: () => show(c), "aria-label": `Edit ${c.code}` }, "Edit"),
    h(
      "button",
      {
        type: "button",
        class: "quiet",
        "aria-label": `Test ${c.code}`,
        onclick: async () => {
          const result = await attempt(() => post(`/console/channels/${id(c.code)}/test`));
          if (!result) return;
          if (result.ok) say(`${c.code}: HTTP ${result.status} in ${result.latency_ms} ms — ${result.reply}`);
          else say(`${c.code}: failed (HTTP ${result.status}) — ${result.error}`, "error");
        },
      },
      "Test",
    ),
    h(
      "button",
      {
        type: "button",
        class: toggle === "deactivate" ? "danger" : "quiet",
        onclick: async () => (await attempt(() => post(`/console/channels/${id(c.code)}/${toggle}`), `${c.code}: ${toggle}d`)) && reload(),
      },
      toggle === "deactivate" ? "Deactivate" : "Activate",
    ),
  );
}

function channelForm(channel, models, meta, reload) {
  const c = channel || { code: "", model: models[0]?.name || "", protocol: "openai", url: "", deploy_name: "", weight: 1, priority: "normal", max_concurrency: 0, timeout_s: 600, price: {}, options: {}, credentials: {} };
  const secret = h("input", { name: "api_key", id: "f-api_key", type: "password", autocomplete: "new-password", placeholder: channel ? `unchanged (${c.credentials.api_key || "none"})` : "" });
  const form = h(
    "form",
    { class: "card grid three", "aria-label": channel ? `Edit channel ${c.code}` : "New channel" },
    field("Code (optional)", input("code", c.code, { readonly: Boolean(channel) })),
    field("Model", select("model", models.map((m) => m.name), c.model)),
    field("Protocol", select("protocol", meta.protocols, c.protocol)),
    field("Upstream URL", input("url", c.url, { required: true, placeholder: "https://api.example.com/v1" })),
    field("API key (write-only)", secret),
    field("Deploy name (upstream model)", input("deploy_name", c.deploy_name)),
    field("Weight", input("weight", c.weight, { type: "number", min: 0, step: 1 })),
    field("Priority", select("priority", ["high", "normal", "low"], c.priority)),
    field("Max concurrency (0 = unlimited)", input("max_concurrency", c.max_concurrency, { type: "number", min: 0, step: 1 })),
    field("Timeout (s)", input("timeout_s", c.timeout_s, { type: "number", min: 1, step: "any" })),
    field("Price per 1k input tokens", input("price_input", c.price.input ?? "")),
    field("Price per 1k output tokens", input("price_output", c.price.output ?? "")),
    field("Options (JSON)", h("textarea", { name: "options", id: "f-options" }, JSON.stringify(c.options)), { class: "wide" }),
    h("div", { class: "actions wide" }, h("button", { type: "submit" }, channel ? "Save channel" : "Create channel")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = formValues(form);
    secret.value = "";
    const done = await attempt(async () => {
      const body = {
        model: v.model,
        protocol: v.protocol,
        url: v.url.trim(),
        deploy_name: v.deploy_name.trim(),
        weight: Number(v.weight),
        priority: v.priority,
        max_concurrency: Number(v.max_concurrency),
        timeout_s: Number(v.timeout_s),
        price: { ...c.price, ...(v.price_input && { input: v.price_input }), ...(v.price_output && { output: v.price_output }) },
        options: parseJson(v.options, "options"),
      };
      if (v.api_key) body.credentials = { api_key: v.api_key };
      if (channel) return patch(`/console/channels/${id(c.code)}`, body);
      if (v.code.trim()) body.code = v.code.trim();
      return post("/console/channels", body);
    }, channel ? "Channel saved" : "Channel created");
    if (done) reload();
  });
  return form;
}
