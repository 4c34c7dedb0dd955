"""OAuth endpoints: one module per endpoint, thin views over plain functions."""
