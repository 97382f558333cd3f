"""`make bench`: greenlight measured against naive baselines on this machine, in one run, one table.

    python -m greenlight_local.bench [--quick] [--only NAME[,NAME...]] [--write BENCHMARKS.md]

One module per figure (request_counts, throughput, imports, signing, end_to_end, memory), each
exposing `FIGURE` and listed in `__main__.FIGURES`, the table's order. Shared: services.py (moto,
the emulator), stacks.py and uploads.py (stacks, images, queue messages), environments.py (how a
function's environment is built for a measurement), submit_runs.py and pipeline_runs.py (runs that
several figures read), timing.py and resources.py (wall time, CPU, memory), report.py (rows,
verdicts, the Markdown). probe.py is the memory figure's child process.

Everything talks to 127.0.0.1 only (moto server, the Green emulator, the local hosts); every wait
is bounded. Module-level imports are stdlib only (and of each other), heavy ones happen inside
functions: the memory probe imports part of this package in a fresh process and must not carry the
harness's dependencies into the handler's figures. This file imports nothing.
"""
