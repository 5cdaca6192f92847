"""Console login: OAuth 2.0 / OIDC, CAS and API-key login, sessions, CSRF, users.

`setup(app)` (in `gateway.login.plugin`) wires it: the session storage (Redis, or an encrypted
cookie in embedded mode) behind a middleware that only runs for /console and /login, the
login routes, and the `Login` state. docs/console.md tells the whole story.
"""
