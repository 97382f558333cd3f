"""`make bench`: greenlight measured against naive baselines on this machine, in one run, one table.

    python -m greenlight_local.bench [--quick] [--only NAME[,NAME...]] [--write BENCHMARKS.md]

One module per figure, each exposing `FIGURE` and listed in `__main__.FIGURES` (the table's order):
throughput (submit vs the per-image SDK loop, zero and realistic latency), verdict_time (time to
verdict and to enforcement), request_counts (Green requests per 1,000 uploads, the budget's rate),
aws_cost (AWS requests, capacity, cost per 1,000 images, record size), end_to_end (a burst, smoke),
imports, memory (peak RSS and first invocations), signing.

Shared: services.py (moto, the emulator), network.py (the emulator's network model: zero and
realistic), stacks.py and uploads.py (stacks, images, queue messages), environments.py (a function's
environment for a measurement), submit_runs.py and pipeline_runs.py (runs several figures read;
pipeline runs load metered_handler.py in the function hosts), aws_usage.py, sizing.py, costs.py and
poll_model.py (pure arithmetic, unit-tested), stats.py and resources.py (percentiles, CPU, memory,
machine load), report.py (rows, verdicts, the Markdown, the comparison with the previous run).
probe.py is the memory figure's child process.

Everything talks to 127.0.0.1 only (moto server, the Green emulator, the local hosts); every wait
is bounded. Module-level imports are stdlib only (and of each other; pipeline_runs, which subclasses
the local pipeline, and the figures reading it also load greenlight_local.pipeline), heavy ones
happen inside functions: the memory probe and the metered handler are imported in fresh processes
and must not carry the harness's dependencies into the handler's figures. This file imports nothing.
"""
