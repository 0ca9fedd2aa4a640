"""Jobs that are not about one exhibit: the nightly fixity sweep, ledger checkpoints, quarantining bad drops,
and the retention sweep (which requests disposals and never deletes)."""

from dagster import (
    Config,
    DefaultScheduleStatus,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)

from evidence_store.access import SERVICE
from evidence_store.custody import make_checkpoint
from evidence_store.intake_folders import quarantine
from evidence_store.retention import retention_sweep
from evidence_store.verification import fixity_sweep
from pipelines.execution import coded_failures, retry_policy
from pipelines.resources import EvidenceStoreResource


@op(retry_policy=retry_policy())
def sweep_fixity(context: OpExecutionContext, evidence: EvidenceStoreResource) -> Output[None]:
    """The whole ledger verified and every stored object re-read, decrypted and re-hashed."""
    with coded_failures():
        report = fixity_sweep(evidence.system(), SERVICE)
    summary = report.to_dict()
    metadata = {
        "ledger_ok": MetadataValue.bool(report.ledger.ok),
        "events_checked": MetadataValue.int(report.ledger.checked),
        "objects_checked": MetadataValue.int(report.objects_checked),
        "objects_verified": MetadataValue.int(report.objects_verified),
        "problems": MetadataValue.json(summary["problems"]),
    }
    context.log.info(
        f"fixity sweep: ledger {'ok' if report.ledger.ok else 'BROKEN'}, {report.objects_verified} of "
        f"{report.objects_checked} objects verified, {len(report.problems)} problem(s)"
    )
    if not report.ok:
        first = report.problems[0] if report.problems else None
        code = first.code if first else report.ledger.code
        message = first.message if first else report.ledger.reason
        raise Failure(
            description=f"[{code}] {message} ({len(report.problems)} problem(s))",
            metadata=metadata,
            allow_retries=False,
        )
    return Output(None, metadata=metadata)


@job(
    name="fixity_sweep",
    description="Nightly: verify the ledger and re-hash every stored object (HASH_VERIFIED / FIXITY_FAILED).",
)
def fixity_sweep_job() -> None:
    sweep_fixity()


@op(retry_policy=retry_policy())
def sign_checkpoint(context: OpExecutionContext, evidence: EvidenceStoreResource) -> None:
    with coded_failures():
        checkpoint = make_checkpoint(evidence.system(), SERVICE)
    context.log.info(f"checkpoint of {checkpoint.tree_size} events, root {checkpoint.root}")


@job(
    name="ledger_checkpoint",
    description="Signs a checkpoint of the ledger head (catalog row, CHECKPOINT event, copy in the store).",
)
def ledger_checkpoint_job() -> None:
    sign_checkpoint()


@op(retry_policy=retry_policy())
def sweep_retention(context: OpExecutionContext, evidence: EvidenceStoreResource) -> Output[None]:
    """Disposal *requests* for exhibits whose retention has ended; a supervisor approves each one or not."""
    with coded_failures():
        report = retention_sweep(evidence.system(), SERVICE)
    context.log.info(
        f"retention sweep: {len(report.requested)} disposal(s) requested, {len(report.held)} held, "
        f"{len(report.reviews_due)} review(s) due, {report.waiting} not yet due; nothing deleted"
    )
    summary = report.to_dict()
    return Output(
        None,
        metadata={
            "requested": MetadataValue.int(len(report.requested)),
            "held": MetadataValue.int(len(report.held)),
            "reviews_due": MetadataValue.int(len(report.reviews_due)),
            "requests": MetadataValue.json(summary["requested"]),
        },
    )


@job(
    name="retention_sweep",
    description="Daily: request disposal of what retention says may go (supervisors approve; nothing deleted here).",
)
def retention_sweep_job() -> None:
    sweep_retention()


class QuarantineConfig(Config):
    intake: str
    name: str
    code: str
    message: str


@op
def quarantine_drop(context: OpExecutionContext, config: QuarantineConfig, evidence: EvidenceStoreResource) -> None:
    """Moves a dropped file that cannot be ingested to quarantine/, on the record, and fails the run saying why."""
    folder = evidence.intake_folder(config.intake)
    where = quarantine(evidence.system(), SERVICE, folder, config.name, config.code, config.message)
    raise Failure(
        description=f"[{config.code}] {config.message}",
        metadata={"code": config.code, "quarantined_at": MetadataValue.path(str(where))},
        allow_retries=False,
    )


@job(
    name="intake_quarantine",
    description="A dropped file that could not become an exhibit: quarantined with its coded reason.",
)
def intake_quarantine_job() -> None:
    quarantine_drop()


nightly_fixity = ScheduleDefinition(
    name="nightly_fixity_sweep",
    job=fixity_sweep_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)

hourly_checkpoint = ScheduleDefinition(
    name="hourly_ledger_checkpoint",
    job=ledger_checkpoint_job,
    cron_schedule="7 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)

daily_retention = ScheduleDefinition(
    name="daily_retention_sweep",
    job=retention_sweep_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
