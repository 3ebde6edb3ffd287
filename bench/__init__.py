"""Benchmarks for hrflow (issue 9, part 1). Each runs with one command and prints its table:

    python -m bench.throughput --size small|full   cases/s of every process vs a bare workflow
    python -m bench.api_load   --size small|full   50 clients on inbox + approve vs a bare update
    python -m bench.growth     --size small|full   inbox, case list, report at 1k/10k/100k cases
    python -m bench.history    --size small|full   history events of each process's longest scenario
    python -m bench.memory     --size small|full   worker RSS with 10,000 open waiting cases

They start their own PostgreSQL (embedded, in a temporary directory), Temporal server, worker and
API, and stop them again; nothing touches ``.hrflow``. Results, with the machine they ran on, are
recorded in ``bench/RESULTS.md``. These are benchmarks, not tests: nothing here asserts a timing
(``tests/test_bench_smoke.py`` only checks that each one runs at a tiny size and prints its table).
"""
