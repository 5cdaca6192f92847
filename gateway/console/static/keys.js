// API keys: create (the secret is shown once, then removed from the page), child keys,
// quota and QPS, reset, (de)activate.
import { get, id, patch, post, session } from "./api.js";
import { field, formValues, h, input, pill, select, table } from "./dom.js";
import { attempt, page, say } from "./ui.js";

export async function keysPage(main, meta) {
  const keys = await get("/console/apikeys");
  const editor = h("div");
  const secretBox = h("div");
  const reload = () => keysPage(main, meta);
  const show = (form) => editor.replaceChildren(form);
  const reveal = (made, title) => showSecretOnce(secretBox, made, title, reload);
  const parents = keys.data.filter((k) => !k.parent_code && k.status === "active");
  main.replaceChildren(
    ...page(
      "API keys",
      secretBox,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => show(createForm(meta, parents, null, reveal)) }, "New key")),
      editor,
      table(
        [
          { title: "Code", cell: (k) => h("code", {}, k.code) },
          { title: "Name", cell: (k) => k.name },
          { title: "Key", cell: (k) => h("code", {}, k.mask) },
          { title: "Role", cell: (k) => k.role },
          { title: "Parent", cell: (k) => (k.parent_code ? h("code", {}, k.parent_code) : "") },
          { title: "Spent / quota", num: true, cell: (k) => `${k.month_spent} / ${k.month_quota ?? "∞"}` },
          { title: "QPS", num: true, cell: (k) => k.limits.qps || "∞" },
          { title: "Concurrency", num: true, cell: (k) => k.limits.concurrency || "∞" },
          { title: "Status", cell: (k) => pill(k.status) },
          { title: "Actions", cell: (k) => actions(k, meta, parents, show, reveal, reload) },
        ],
        keys.data,
      ),
    ),
  );
}

function actions(k, meta, parents, show, reveal, reload) {
  const toggle = k.status === "active" ? "deactivate" : "activate";
  return h(
    "div",
    { class: "actions" },
    h("button", { type: "button", class: "quiet", "aria-label": `Edit ${k.name}`, onclick: () => show(editForm(k, meta, reload)) }, "Edit"),
    k.parent_code ? null : h("button", { type: "button", class: "quiet", "aria-label": `Child key of ${k.name}`, onclick: () => show(createForm(meta, parents, k.code, reveal)) }, "Child key"),
    h(
      "button",
      {
        type: "button",
        class: "quiet",
        "aria-label": `Reset ${k.name}`,
        onclick: async () => {
          if (!confirm(`Give ${k.name} a new secret? The old one stops working at once.`)) return;
          const made = await attempt(() => post(`/console/apikeys/${id(k.code)}/reset`));
          if (made) reveal(made, `New secret for ${made.name}`);
        },
      },
      "Reset",
    ),
    h(
      "button",
      {
        type: "button",
        class: toggle === "deactivate" ? "danger" : "quiet",
        onclick: async () => (await attempt(() => post(`/console/apikeys/${id(k.code)}/${toggle}`), `${k.name}: ${toggle}d`)) && reload(),
      },
      toggle === "deactivate" ? "Deactivate" : "Activate",
    ),
  );
}

function limits(v) {
  return {
    role: v.role,
    qps: Number(v.qps || 0),
    concurrency: Number(v.concurrency || 0),
    month_quota: v.month_quota.trim() || null,
  };
}

function limitFields(meta, k) {
  return [
    field("Role", select("role", meta.roles, k?.role || "low")),
    field("QPS (0 = unlimited)", input("qps", k?.limits.qps ?? 0, { type: "number", min: 0, step: 1 })),
    field("Concurrency (0 = unlimited)", input("concurrency", k?.limits.concurrency ?? 0, { type: "number", min: 0, step: 1 })),
    field("Monthly quota (empty = none)", input("month_quota", k?.month_quota ?? "", { inputmode: "decimal" })),
  ];
}

function createForm(meta, parents, parent, reveal) {
  const form = h(
    "form",
    { class: "card grid", "aria-label": "New key" },
    field("Name", input("name", "", { required: true })),
    field("Parent key (for a child key)", select("parent_code", [["", "none"], ...parents.map((p) => [p.code, `${p.name} (${p.code})`])], parent || "")),
    ...limitFields(meta, null),
    h("div", { class: "actions wide" }, h("button", { type: "submit" }, "Create key")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = formValues(form);
    const body = { name: v.name.trim(), ...limits(v), ...(v.parent_code && { parent_code: v.parent_code }) };
    const made = await attempt(() => post("/console/apikeys", body));
    if (made) reveal(made, `Key ${made.name} created`);
  });
  return form;
}

function editForm(k, meta, reload) {
  const form = h(
    "form",
    { class: "card grid", "aria-label": `Edit key ${k.name}` },
    field("Name", input("name", k.name, { required: true })),
    ...limitFields(meta, k),
    h("div", { class: "actions wide" }, h("button", { type: "submit" }, "Save key")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = formValues(form);
    const done = await attempt(() => patch(`/console/apikeys/${id(k.code)}`, { name: v.name.trim(), ...limits(v) }), "Key saved");
    if (done) reload();
  });
  return form;
}

// The secret is shown once, in a read-only field; "Done" removes it from the page. It may be
// handed to the playground, which keeps it in memory only (never in the page or storage).
function showSecretOnce(box, made, title, reload) {
  let secret = made.key;
  delete made.key;
  const holder = h("input", { id: "new-secret", readonly: true, "aria-label": "The new secret", autocomplete: "off" });
  holder.value = secret;
  const forget = () => {
    holder.value = "";
    secret = null;
    box.replaceChildren();
    reload();
  };
  box.replaceChildren(
    h(
      "section",
      { class: "secret", "aria-label": "New key secret" },
      h("h2", {}, title),
      h("p", {}, "Copy the secret now: it is shown this once and never again."),
      holder,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: async () => { await navigator.clipboard?.writeText(secret).catch(() => null); say("Copied"); } }, "Copy"),
        h("button", { type: "button", class: "quiet", onclick: () => { session.playgroundKey = secret; say("The playground will use this key"); } }, "Use in playground"),
        h("button", { type: "button", class: "quiet", onclick: forget }, "Done"),
      ),
    ),
  );
  holder.select();
}
