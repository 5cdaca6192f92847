// Building the page safely: every datum becomes a text node or a checked attribute, never
// markup. Nothing here (or anywhere in the console) assigns innerHTML.

const SAFE_ATTRS = /^(id|class|tabindex|type|name|value|placeholder|for|role|title|min|max|step|rows|autocomplete|inputmode|hidden|disabled|checked|selected|readonly|required|href|download|target|rel|list|scope|colspan|width|height|viewBox|x|y|dx|dy|text-anchor|aria-[a-z]+|data-[a-z-]+)$/;

export function h(tag, props = {}, ...children) {
  const svg = ["svg", "rect", "text", "g", "line", "title"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "text") {
      el.textContent = String(value);
    } else if (SAFE_ATTRS.test(name)) {
      if (name === "href" && !safeHref(String(value))) continue;
      el.setAttribute(name, value === true ? "" : String(value));
    } else {
      throw new Error(`attribute ${name} is not allowed`);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function safeHref(href) {
  return href.startsWith("#") || (href.startsWith("/") && !href.startsWith("//"));
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A labelled control: <div><label for=…>Text</label><control id=…></div>. An explicit label
// names the control exactly (a wrapping label would add a select's option text to it).
let counter = 0;
export function field(text, control, props = {}) {
  if (!control.id) control.id = `c-${++counter}`;
  const kind = props.class ? `field ${props.class}` : "field";
  return h("div", { class: kind }, h("label", { for: control.id }, text), control);
}

export function input(name, value = "", props = {}) {
  return h("input", { name, id: `f-${name}`, value: value ?? "", ...props });
}

export function select(name, options, value, props = {}) {
  return h(
    "select",
    { name, id: `f-${name}`, ...props },
    options.map((o) => {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      return h("option", { value: v, selected: v === value }, label);
    }),
  );
}

// A table that becomes a list of cards on narrow screens (CSS, by each cell's data-label);
// explicit roles keep it a table for assistive technology whatever its display.
export function table(columns, rows, caption) {
  const head = h("tr", { role: "row" }, columns.map((c) => h("th", { scope: "col", role: "columnheader", class: c.num ? "num" : null }, c.title)));
  const body = rows.length
    ? rows.map((row) => h("tr", { role: "row" }, columns.map((c) => h("td", { role: "cell", "data-label": c.title, class: c.num ? "num" : null }, c.cell(row)))))
    : h("tr", { role: "row" }, h("td", { role: "cell", colspan: columns.length, class: "muted" }, "Nothing yet."));
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { role: "table", class: "cards" }, caption ? h("caption", { class: "muted" }, caption) : null, h("thead", { role: "rowgroup" }, head), h("tbody", { role: "rowgroup" }, body)),
  );
}

export function pill(text, kind = text) {
  return h("span", { class: `pill ${kind}` }, text);
}

export function formValues(form) {
  const values = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    values[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  return values;
}
