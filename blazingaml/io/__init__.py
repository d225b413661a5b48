"""Data layer: IBM AML CSV and Patterns.txt formats, normalised Parquet, atomic writes."""
