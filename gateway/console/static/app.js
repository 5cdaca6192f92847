// The console's shell: session check, hash routes, navigation, logout.
import { get, loadSession, logout, session } from "./api.js";
import { auditPage } from "./audit.js";
import { channelsPage } from "./channels.js";
import { keysPage } from "./keys.js";
import { loginPage } from "./login.js";
import { modelsPage } from "./models.js";
import { playgroundPage } from "./playground.js";
import { clearStatus, failed } from "./ui.js";
import { usagePage } from "./usage.js";

const PAGES = {
  models: modelsPage,
  channels: channelsPage,
  keys: keysPage,
  usage: usagePage,
  audit: auditPage,
  playground: playgroundPage,
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const logoutButton = document.getElementById("logout");
let meta = null;

function loggedIn(visible) {
  nav.hidden = who.hidden = logoutButton.hidden = !visible;
  who.textContent = visible ? `${session.principal.name} (${session.principal.kind})` : "";
}

async function route() {
  clearStatus();
  if (!session.principal) {
    loggedIn(false);
    return loginPage(main, start);
  }
  loggedIn(true);
  const name = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || "models";
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    meta ||= await get("/console/meta");
    await (PAGES[name] || modelsPage)(main, meta);
    main.querySelector("h1")?.focus({ preventScroll: true });
  } catch (e) {
    if (e.status === 401) {
      session.principal = null;
      return route();
    }
    failed(e);
  }
}

async function start() {
  try {
    await loadSession();
  } catch (e) {
    failed(e);
  }
  await route();
}

logoutButton.addEventListener("click", async () => {
  try {
    await logout();
  } catch (e) {
    failed(e);
  }
  meta = null;
  location.hash = "";
  await route();
});
window.addEventListener("hashchange", route);
start();
