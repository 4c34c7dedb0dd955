"""The IdP's error types: one base class, each carrying what the user must fix."""


class TokenIdpError(Exception):
    """Base of every error TokenIDP raises on purpose."""


class ConfigError(TokenIdpError):
    """A setting is missing or wrong; the message names the setting and the fix."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message
