"""The BlazingAML pattern language: grammar, AST, parser, static checks and errors.

Nothing here knows about graphs or backends; `parse_file` gives checked AST patterns.
"""

from .errors import PatternError, PatternSyntaxError
from .parser import parse_file, parse_text

__all__ = ["PatternError", "PatternSyntaxError", "parse_file", "parse_text"]
