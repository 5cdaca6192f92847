// The audit log: who changed what, when and from where, with before/after (secrets masked).
import { get } from "./api.js";
import { field, formValues, h, input, select, table } from "./dom.js";
import { page, when } from "./ui.js";

const ENTITIES = ["", "category", "endpoint", "model", "channel", "apikey", "user", "session"];

export async function auditPage(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const entries = await get(`/console/audit?${params}`);
  const form = h(
    "form",
    { class: "card grid three", "aria-label": "Filter the audit log" },
    field("Entity", select("entity", ENTITIES.map((e) => [e, e || "any"]), params.get("entity") || "")),
    field("Actor (email or key code)", input("actor", params.get("actor") || "")),
    field("Since", input("since", params.get("since") || "", { type: "datetime-local" })),
    h("div", { class: "actions wide" }, h("button", { type: "submit" }, "Filter")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = formValues(form);
    const next = new URLSearchParams();
    for (const name of ["entity", "actor"]) if (v[name]) next.set(name, v[name]);
    if (v.since) next.set("since", new Date(v.since).toISOString());
    location.hash = `#/audit?${next}`;
  });
  main.replaceChildren(
    ...page(
      "Audit log",
      form,
      table(
        [
          { title: "When", cell: (e) => when(e.created_at) },
          { title: "Who", cell: (e) => h("code", {}, e.actor) },
          { title: "What", cell: (e) => `${e.entity} ${e.action}` },
          { title: "Id", cell: (e) => h("code", {}, e.entity_id) },
          { title: "From", cell: (e) => e.address },
          { title: "Change", cell: (e) => change(e) },
        ],
        entries.data,
      ),
    ),
  );
}

function change(entry) {
  if (!entry.before && !entry.after) return "";
  return h(
    "details",
    {},
    h("summary", {}, "before / after"),
    h("pre", {}, `before: ${JSON.stringify(entry.before, null, 1)}\nafter: ${JSON.stringify(entry.after, null, 1)}`),
  );
}
