"""Access tokens: the claims (pure) and the signature (kid and alg from the keyring)."""
