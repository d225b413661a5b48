"""snapml-compatible graph features: `GraphFeaturePreprocessor` and its vertex statistics."""

from .preprocessor import AML_PAPER_PARAMS, GraphFeaturePreprocessor

__all__ = ["AML_PAPER_PARAMS", "GraphFeaturePreprocessor"]
