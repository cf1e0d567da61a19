"""The built-in dashboard: pages built from the live state and history, rendered with jinja2.

`pages` builds what each page shows, `charts` draws inline SVG, `formatting` writes numbers,
times and durations for people, `templates` and `assets` load what ships in `templates/` and
`static/`. Nothing here is loaded from the internet, and the handlers stay thin.
"""
