"""Reading SPARQL text before it runs: tokens (lexer), policy (which endpoints it may reach) and
the protocol's rewrites of update text."""
