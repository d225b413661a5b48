"""BlazingAML: a graph-pattern compiler for anti-money-laundering detection."""

__version__ = "0.1.0"
