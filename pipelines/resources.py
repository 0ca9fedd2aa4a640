"""The Dagster resource that hands out the evidence system (store, ledger, catalog).

It reads the same settings as the CLI (`EXHIBIT_HOME`, `EXHIBIT_STORE`, `EXHIBIT_DATABASE_URL`, `EXHIBIT_KEYS`),
and any field set on the resource overrides its variable, so a deployment's choice of local folder or S3,
SQLite or PostgreSQL is configuration, not code.
"""

import os
import threading

from dagster import ConfigurableResource

from evidence_store.catalog import Catalog
from evidence_store.errors import BadSettingError
from evidence_store.intake_folders import IntakeFolder, load_intake_folders
from evidence_store.ledger import Ledger
from evidence_store.objects import ObjectStore
from evidence_store.settings import Settings
from evidence_store.system import EvidenceSystem

_open_systems: dict[Settings, EvidenceSystem] = {}
_lock = threading.Lock()


class EvidenceStoreResource(ConfigurableResource):  # type: ignore[type-arg]
    """Opens the deployment once per process; steps share its connection pools."""

    home: str | None = None
    store_url: str | None = None
    database_url: str | None = None
    keys_dir: str | None = None

    def settings(self) -> Settings:
        env = dict(os.environ)
        for variable, value in (
            ("EXHIBIT_HOME", self.home),
            ("EXHIBIT_STORE", self.store_url),
            ("EXHIBIT_DATABASE_URL", self.database_url),
            ("EXHIBIT_KEYS", self.keys_dir),
        ):
            if value:
                env[variable] = value
        return Settings.from_env(env)

    def system(self) -> EvidenceSystem:
        settings = self.settings()
        with _lock:
            if settings not in _open_systems:
                _open_systems[settings] = EvidenceSystem.open(settings)
            return _open_systems[settings]

    @property
    def store(self) -> ObjectStore:
        return self.system().store

    @property
    def ledger(self) -> Ledger:
        return self.system().ledger

    @property
    def catalog(self) -> Catalog:
        return self.system().catalog

    def intake_folder(self, name: str) -> IntakeFolder:
        for folder in load_intake_folders(self.settings()):
            if folder.name == name:
                return folder
        raise BadSettingError(f"no intake folder named {name!r} is configured", intake=name)
