"""Documents: rendering letters to PDF, window zones, and the template compatibility check."""
