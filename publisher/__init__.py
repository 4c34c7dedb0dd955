"""The publisher: renders the IdP's discovery document and JWKS to an origin behind a CDN.

A deploy hook (`python -m publisher`), so key publication never depends on the token
endpoint: list what the origin holds, diff by content hash, write the JWKS (and read it
back) before discovery, then invalidate exactly the CDN paths that changed.
"""
