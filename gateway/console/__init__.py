"""The admin console: its REST API under /console (a console/all key or an admin session),
the audit log, cache invalidation between processes, and the web page."""
