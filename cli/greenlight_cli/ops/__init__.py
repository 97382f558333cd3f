"""Running the stack: set-up, rescans, redrives and backfills (the logic behind `greenlight setup`,
`rescan`, `redrive` and `backfill`), written against the ports in `ops.ports`; `ops.aws` implements
them with boto3 for a deployed stack and the local one, tests/fakes/operations.py in memory."""
