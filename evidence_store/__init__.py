"""The evidence store: encrypted content-addressed objects, catalog, custody ledger and intake."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("exhibit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
