"""One module per outside system. Nothing outside this package talks HTTP or runs a subprocess."""
