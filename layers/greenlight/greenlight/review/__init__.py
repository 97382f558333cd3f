"""People in the loop: what the review tools (the `greenlight` CLI and its reviewer page) do to the
verdict table, as logic over the ports, so both tools behave the same."""
