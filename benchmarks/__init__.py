"""make bench and the standalone benchmarks (README "Benchmarks")."""
