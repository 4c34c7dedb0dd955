"""Signing keys: the certificate store, the development key and the keyring."""
