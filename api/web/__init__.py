"""The dashboard: server-rendered pages (Jinja2) under /ui, a small vanilla-JS file for live progress."""
