// Models: list, create and edit (features, properties, alias, visibility), (de)activate.
import { get, id, patch, post } from "./api.js";
import { field, formValues, h, input, pill, select, table } from "./dom.js";
import { attempt, page, parseJson } from "./ui.js";

const FEATURES = ["stream", "function_call", "vision", "json_mode"];

export async function modelsPage(main) {
  const [models, endpoints] = await Promise.all([get("/console/models"), get("/console/endpoints")]);
  const editor = h("div");
  const show = (model) => editor.replaceChildren(modelForm(model, endpoints.data, () => modelsPage(main)));
  main.replaceChildren(
    ...page(
      "Models",
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => show(null) }, "New model")),
      editor,
      table(
        [
          { title: "Name", cell: (m) => h("code", {}, m.name) },
          { title: "Endpoints", cell: (m) => m.endpoints.join(", ") },
          { title: "Features", cell: (m) => Object.keys(m.features).filter((f) => m.features[f]).join(", ") },
          { title: "Alias of", cell: (m) => m.linked_to || "" },
          { title: "Visibility", cell: (m) => m.visibility + (m.owner ? ` (${m.owner})` : "") },
          { title: "Status", cell: (m) => pill(m.status) },
          { title: "Actions", cell: (m) => actions(m, () => show(m), () => modelsPage(main)) },
        ],
        models.data,
      ),
    ),
  );
}

function actions(model, edit, reload) {
  const toggle = model.status === "active" ? "deactivate" : "activate";
  return h(
    "div",
    { class: "actions" },
    h("button", { type: "button", class: "quiet", onclick: edit, "aria-label": `Edit ${model.name}` }, "Edit"),
    h(
      "button",
      {
        type: "button",
        class: toggle === "deactivate" ? "danger" : "quiet",
        onclick: async () => (await attempt(() => post(`/console/models/${id(model.name)}/${toggle}`), `${model.name}: ${toggle}d`)) && reload(),
      },
      toggle === "deactivate" ? "Deactivate" : "Activate",
    ),
  );
}

function modelForm(model, endpoints, reload) {
  const m = model || { name: "", endpoints: ["/v1/chat/completions"], features: { stream: true }, properties: {}, linked_to: "", visibility: "public", owner: "" };
  const form = h(
    "form",
    { class: "card grid", "aria-label": model ? `Edit model ${m.name}` : "New model" },
    field("Name", input("name", m.name, { required: true, readonly: Boolean(model) })),
    field("Endpoints (comma separated)", input("endpoints", m.endpoints.join(", "), { list: "endpoint-paths" })),
    h("datalist", { id: "endpoint-paths" }, endpoints.map((e) => h("option", { value: e.path }))),
    h(
      "fieldset",
      { class: "wide" },
      h("legend", {}, "Features"),
      h("div", { class: "actions" }, FEATURES.map((f) => h("label", { class: "check" }, h("input", { type: "checkbox", name: `feature_${f}`, checked: Boolean(m.features[f]) }), f))),
    ),
    field("Properties (JSON)", h("textarea", { name: "properties", id: "f-properties" }, JSON.stringify(m.properties)), { class: "wide" }),
    field("Alias of (linked_to)", input("linked_to", m.linked_to || "")),
    field("Visibility", select("visibility", ["public", "private"], m.visibility)),
    field("Owner (key code, for private)", input("owner", m.owner)),
    h("div", { class: "actions wide" }, h("button", { type: "submit" }, model ? "Save model" : "Create model")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = formValues(form);
    const done = await attempt(async () => {
      const body = {
        endpoints: v.endpoints.split(",").map((s) => s.trim()).filter(Boolean),
        features: Object.fromEntries(FEATURES.map((f) => [f, v[`feature_${f}`]])),
        properties: parseJson(v.properties, "properties"),
        linked_to: v.linked_to.trim() || null,
        visibility: v.visibility,
        owner: v.owner.trim(),
      };
      return model ? patch(`/console/models/${id(m.name)}`, body) : post("/console/models", { name: v.name.trim(), ...body });
    }, model ? "Model saved" : "Model created");
    if (done) reload();
  });
  return form;
}
