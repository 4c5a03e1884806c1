"""Benchmarks behind `make bench`. Each module exposes ``run(args) -> list[Row]``."""
