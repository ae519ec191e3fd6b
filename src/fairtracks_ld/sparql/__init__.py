"""Reading SPARQL text before it runs: tokens (lexer) and policy (which endpoints it may reach)."""
