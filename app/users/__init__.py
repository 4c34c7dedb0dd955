"""People who sign in: their passwords (argon2id) and accounts (the `users` table)."""
