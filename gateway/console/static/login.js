// The login page: the configured providers, and an API key for bootstrap.
import { get, keyLogin } from "./api.js";
import { h } from "./dom.js";
import { failed } from "./ui.js";

const ERRORS = {
  state: "That login link expired or was already used. Please start again.",
  provider: "The login provider did not answer as expected. Please try again.",
  denied: "The login was cancelled at the provider.",
  email: "Your account has no verified email address this console accepts.",
  not_admin: "You are logged in with the provider, but you have no console access. Ask an admin to grant it.",
  disabled: "Your console user is deactivated.",
  rate_limited: "Too many login attempts. Please wait a minute.",
};

export async function loginPage(main, onLoggedIn) {
  const params = new URLSearchParams(location.search);
  const error = params.get("login_error");
  const next = "/console/" + (location.hash || "");
  let listed = { providers: [], key_login: true };
  try {
    listed = await get("/login/providers");
  } catch (e) {
    failed(e);
  }
  const keyInput = h("input", { id: "login-key", name: "key", type: "password", autocomplete: "off", required: true });
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        const key = keyInput.value;
        keyInput.value = "";
        try {
          await keyLogin(key);
          history.replaceState(null, "", location.pathname + location.hash);
          onLoggedIn();
        } catch (e) {
          failed(e);
        }
      },
    },
    h("label", { for: "login-key" }, "Console API key"),
    keyInput,
    h("p", {}, h("button", { type: "submit" }, "Log in with key")),
  );
  main.replaceChildren(
    h(
      "section",
      { class: "login" },
      h("h1", {}, "Log in"),
      error ? h("p", { class: "msg error", role: "alert" }, ERRORS[error] || "The login failed.") : null,
      listed.providers.length
        ? h(
            "div",
            { class: "providers" },
            listed.providers.map((p) =>
              h(
                "a",
                { class: "button", href: `/login/${encodeURIComponent(p.name)}/start?next=${encodeURIComponent(next)}` },
                `Log in with ${p.label}`,
              ),
            ),
          )
        : null,
      listed.key_login ? form : null,
    ),
  );
  keyInput.focus();
}
