"""Small shared helpers: plots, config checks, metric logging."""
