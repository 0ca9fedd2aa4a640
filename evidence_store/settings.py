"""Deployment settings, read from the environment so the CLI, Dagster and the review app agree.

| variable               | default                              | meaning                                          |
|------------------------|--------------------------------------|--------------------------------------------------|
| EXHIBIT_HOME           | ./.exhibit                           | where the embedded defaults live                 |
| EXHIBIT_STORE          | file://$EXHIBIT_HOME/store           | object store: file://PATH or s3://BUCKET/PREFIX  |
| EXHIBIT_DATABASE_URL   | sqlite:///$EXHIBIT_HOME/catalog.db   | SQLAlchemy URL (postgresql+psycopg://... at scale)|
| EXHIBIT_KEYS           | $EXHIBIT_HOME/keys                   | master keys (master/) and signing keys (signing/)|
| EXHIBIT_USER           | $USER                                | the Exhibit user a command runs as (or --as)     |

S3 uses the standard AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    store_url: str
    database_url: str
    keys_dir: Path
    actor: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("EXHIBIT_HOME") or "./.exhibit").expanduser().resolve()
        try:
            default_actor = getpass.getuser()
        except (KeyError, OSError):
            default_actor = "unknown"
        return cls(
            home=home,
            store_url=env.get("EXHIBIT_STORE") or f"file://{home / 'store'}",
            database_url=env.get("EXHIBIT_DATABASE_URL") or f"sqlite:///{home / 'catalog.db'}",
            keys_dir=Path(env.get("EXHIBIT_KEYS") or home / "keys").expanduser().resolve(),
            actor=env.get("EXHIBIT_USER") or default_actor,
        )

    def describe(self) -> dict[str, str]:
        """The settings as shown to a user: never includes a secret (database passwords are masked)."""
        from sqlalchemy.engine import make_url

        return {
            "home": str(self.home),
            "store": self.store_url,
            "database": make_url(self.database_url).render_as_string(hide_password=True),
            "keys": str(self.keys_dir),
        }
