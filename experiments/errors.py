"""Errors a user can cause and fix. The command line prints them as one line and exits 2."""


class UserError(Exception):
    """A bad configuration value, a missing file or a similar mistake the user can fix."""


class DataMissingError(UserError):
    """The dataset files are not under the data root and could not be downloaded."""
