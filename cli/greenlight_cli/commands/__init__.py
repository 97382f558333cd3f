"""One module per command group; each has `register(app)`, which greenlight_cli.main calls.

A new group (setup, rescan, redrive, backfill...) is a module here with its own `register`, added to
`GROUPS` in greenlight_cli.main.
"""
