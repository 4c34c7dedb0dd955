"""What operators watch and what protects the IdP from abuse: metrics and rate limits."""
