"""Batched and vectorised twins of core functions, each tested equal to the function it speeds up."""
