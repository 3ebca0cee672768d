"""Side-by-side benchmarks of microscout (issue #7): each script measures microscout and its
baseline in one run on this machine and prints the ratio. ``python -m benchmarks.run_all`` runs
them all and prints one table; ``benchmarks/RESULTS.md`` keeps the latest table."""
