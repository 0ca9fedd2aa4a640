"""One handle on a deployment: settings, object store, catalog and ledger, opened or initialised together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evidence_store.backends import S3Backend, backend_from_url
from evidence_store.catalog import Catalog, CustodyEventRow
from evidence_store.crypto import LocalKeyProvider
from evidence_store.errors import KeyMissingError
from evidence_store.ledger import CustodyEvent, Ledger, SigningKey, load_public_keys
from evidence_store.objects import ObjectStore
from evidence_store.settings import Settings
from schemas.records import CustodyAction

SERVICE_ACTOR = "exhibit-service"
SERVICE_ROLE = "service"
STALE_STAGING_SECONDS = 6 * 3600  # no put runs this long; anything older in staging was interrupted


@dataclass
class EvidenceSystem:
    settings: Settings
    store: ObjectStore
    catalog: Catalog
    ledger: Ledger

    @property
    def master_keys_dir(self) -> Any:
        return self.settings.keys_dir / "master"

    def public_keys(self) -> dict[str, bytes]:
        return load_public_keys(self.settings.keys_dir / "signing")

    @classmethod
    def open(cls, settings: Settings | None = None) -> EvidenceSystem:
        """Opens an initialised deployment.

        Raises:
            NotInitialisedError, KeyMissingError: `exhibit init` has not been run for these settings.
        """
        settings = settings or Settings.from_env()
        catalog = Catalog(settings.database_url)
        catalog.require_schema()
        keys = LocalKeyProvider(settings.keys_dir / "master")
        keys.current_id()
        store = ObjectStore(backend_from_url(settings.store_url), keys)
        ledger = Ledger(SigningKey.load_current(settings.keys_dir / "signing"), SERVICE_ACTOR)
        return cls(settings, store, catalog, ledger)

    @classmethod
    def initialise(
        cls, settings: Settings | None = None, sweep_older_than: float = STALE_STAGING_SECONDS
    ) -> tuple[EvidenceSystem, dict[str, Any]]:
        """Creates what is missing (folders, keys, schema, bucket) and opens the deployment. Safe to repeat,
        even while other processes ingest: only staging leftovers older than `sweep_older_than` are removed."""
        settings = settings or Settings.from_env()
        settings.home.mkdir(parents=True, exist_ok=True)
        settings.keys_dir.mkdir(parents=True, exist_ok=True)
        settings.keys_dir.chmod(0o700)  # mkdir's mode is masked by the umask
        created: dict[str, Any] = {"master_key": None, "signing_key": None}
        keys = LocalKeyProvider(settings.keys_dir / "master")
        try:
            keys.current_id()
        except KeyMissingError:
            created["master_key"] = keys.create()
        signing_dir = settings.keys_dir / "signing"
        try:
            SigningKey.load_current(signing_dir)
        except KeyMissingError:
            key = SigningKey.generate()
            key.save(signing_dir)
            created["signing_key"] = key.key_id
        backend = backend_from_url(settings.store_url)
        if isinstance(backend, S3Backend):
            backend.ensure_bucket()
        swept = backend.sweep_staging(sweep_older_than)
        migrations = Catalog(settings.database_url)
        try:
            migrations.migrate()
        finally:
            migrations.dispose()
        system = cls.open(settings)
        with system.catalog.transaction() as session:
            if session.query(CustodyEventRow.seq).limit(1).first() is None:
                system.ledger.append(
                    session,
                    CustodyAction.SYSTEM_INITIALISED,
                    actor=SERVICE_ACTOR,
                    role=SERVICE_ROLE,
                    details={
                        "store": settings.store_url,
                        "master_key_id": keys.current_id(),
                        "signing_key_id": system.ledger.signing_key.key_id,
                    },
                )
        return system, {**created, "staging_swept": swept, **settings.describe()}

    def record(self, action: CustodyAction, *, actor: str, role: str, **fields: Any) -> CustodyEvent:
        """One custody event in a transaction of its own: views, refusals, fixity results, key rotations."""
        with self.catalog.transaction() as session:
            return self.ledger.append(session, action, actor=actor, role=role, **fields)

    def close(self) -> None:
        self.catalog.dispose()
