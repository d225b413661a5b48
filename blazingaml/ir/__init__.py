"""Intermediate representation of patterns, its lowering from the AST, and the optimiser passes."""
