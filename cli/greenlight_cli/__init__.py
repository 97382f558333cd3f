"""The `greenlight` command-line tool: find verdicts, review the queue, override decisions, and run
the stack (set-up, rescans, redrives, backfills), against a deployed stack or the local one."""
