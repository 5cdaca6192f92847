// Usage: a month per day and per model, as bar charts and tables, with CSV export.
import { get } from "./api.js";
import { field, h, input, table } from "./dom.js";
import { page } from "./ui.js";

export async function usagePage(main) {
  const month = new URLSearchParams(location.hash.split("?")[1] || "").get("month") || new Date().toISOString().slice(0, 7);
  const query = (by) => `/console/usage?month=${encodeURIComponent(month)}&by=${by}`;
  const [byDay, byModel, byKey] = await Promise.all(["day", "model", "key"].map((by) => get(query(by))));
  const picker = input("month", month, { type: "month" });
  picker.addEventListener("change", () => (location.hash = `#/usage?month=${encodeURIComponent(picker.value)}`));
  const csv = (by) => h("a", { class: "button quiet", href: `${query(by)}&format=csv`, download: `usage-${month}-${by}.csv` }, `CSV by ${by}`);
  const columns = (name) => [
    { title: name, cell: (r) => h("code", {}, r.group) },
    { title: "Requests", num: true, cell: (r) => r.requests },
    { title: "Prompt tokens", num: true, cell: (r) => r.prompt_tokens },
    { title: "Completion tokens", num: true, cell: (r) => r.completion_tokens },
    { title: "Cost", num: true, cell: (r) => r.cost },
  ];
  main.replaceChildren(
    ...page(
      "Usage",
      h("div", { class: "actions" }, field("Month", picker), csv("day"), csv("model"), csv("key")),
      h(
        "div",
        { class: "charts" },
        h("section", { class: "card", "aria-label": "Requests per day" }, h("h2", {}, "Requests per day"), bars(monthDays(month, byDay.data), "requests")),
        h("section", { class: "card", "aria-label": "Cost per model" }, h("h2", {}, "Cost per model"), bars(byModel.data, "cost")),
      ),
      h("h2", {}, "Per model"),
      table(columns("Model"), byModel.data),
      h("h2", {}, "Per day"),
      table(columns("Day"), byDay.data),
      h("h2", {}, "Per key"),
      table(columns("Key"), byKey.data),
    ),
  );
}

// Every day of the month, with zeros where nothing happened, so the chart reads as a month.
function monthDays(month, rows) {
  const [year, number] = month.split("-").map(Number);
  const days = new Date(Date.UTC(year, number, 0)).getUTCDate() || 0;
  const known = new Map(rows.map((r) => [r.group, r]));
  return Array.from({ length: days }, (_, i) => {
    const day = `${month}-${String(i + 1).padStart(2, "0")}`;
    return known.get(day) || { group: day, requests: 0, cost: "0" };
  });
}

// A bar chart in SVG: one bar per row, its label under it, the value in its title.
function bars(rows, metric) {
  if (!rows.some((r) => Number(r[metric]) > 0)) return h("p", { class: "muted" }, "No requests this month.");
  const values = rows.map((r) => Number(r[metric]));
  const top = Math.max(...values) || 1;
  const width = 600, height = 180, base = 150;
  const step = width / Math.max(rows.length, 6);
  const bar = Math.min(step * 0.8, 60);
  const every = Math.ceil(rows.length / 10);
  return h(
    "svg",
    { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${metric} by ${rows.length} groups` },
    rows.map((r, i) => {
      const tall = values[i] ? Math.max((values[i] / top) * (base - 10), 2) : 0;
      const x = i * step + (step - bar) / 2;
      const day = /^\d{4}-\d{2}-(\d{2})$/.exec(r.group);
      const label = day ? String(Number(day[1])) : r.group.length > 14 ? `…${r.group.slice(-8)}` : r.group;
      return h(
        "g",
        {},
        h("rect", { x, y: base - tall, width: bar, height: tall }, h("title", {}, `${r.group}: ${r[metric]}`)),
        i % every === 0 ? h("text", { x: i * step + step / 2, y: base + 14, "text-anchor": "middle" }, label) : null,
      );
    }),
  );
}
