"""Experiments and protocols built from the core: evaluation, sweeps, baselines, case studies, costs, benchmarks."""
