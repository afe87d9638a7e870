"""Pure scientific building blocks of the screening domain: standardization, filters, similarity."""
