"""A case's custody and findings as CASE/UCO JSON-LD, for tools that speak the Cyber-investigation Analysis
Standard Expression (caseontology.org) rather than our bundle format.

Terms are those of CASE 1.5.0 / UCO 1.4.0 (the `case-1.5.0.ttl` shipped by case-utils, checked against the
casework/CASE-Examples illustrations). Since UCO 1.4.0 `types:hashMethod` and `core:kindOfRelationship` are
plain strings ("SHA256", "Contained_Within"): the older vocabulary-typed literals now draw a warning.

The graph holds:

- the `case-investigation:Investigation` (reference, title, status) and its officer in charge;
- per exhibit, a `case-investigation:ProvenanceRecord` (the exhibit reference) naming its original as a
  `uco-observable:File` (file name, size, MD5/SHA-1/SHA-256); a child of a device image is `Contained_Within`
  its parent's file;
- every custody ledger event of the case as a `case-investigation:InvestigativeAction` (the action, its
  time, the performer's identity and role, the exhibit's file, the stated reason), carrying the event's
  sequence number and entry hash as `uco-core:ExternalReference`s so each action can be tied back to the
  signed ledger (and to the custody proofs of a bundle). A DERIVED event names its tool, version and
  parameters (a `uco-tool:ConfiguredTool`), the file it was made from and the derivative file it made;
- what the catalog already knows of a photo's or recording's camera, time and place (`exhibit_facts`): an
  `uco-observable:EXIFFacet`, a camera `uco-observable:Device` and a `uco-location:Location`.

IRIs are `kb:` + a UUIDv5 of what the node is (case, exhibit, digest, ledger sequence number), so exporting the
same state twice gives the same graph; only the node for the export itself (its time) differs. Nothing here
reads an exhibit's bytes: it is metadata from the catalog and the ledger.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from evidence_store.access import Actor, Permission, authorize
from evidence_store.cases import get_case
from evidence_store.catalog import Derivative, Exhibit, ExhibitFact, StoredObject
from evidence_store.custody import record_exports
from evidence_store.ledger import CustodyEvent, Ledger, format_time
from evidence_store.system import SERVICE_ROLE, EvidenceSystem
from evidence_store.workspace import written_whole
from schemas.records import CustodyAction

FORMAT = "CASE/UCO JSON-LD"
CASE_VERSION = "1.5.0"
_UCO = "https://ontology.unifiedcyberontology.org/uco/"
CONTEXT: dict[str, str] = {
    "kb": "urn:exhibit:kb:",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": f"{_UCO}action/",
    "uco-configuration": f"{_UCO}configuration/",
    "uco-core": f"{_UCO}core/",
    "uco-identity": f"{_UCO}identity/",
    "uco-location": f"{_UCO}location/",
    "uco-observable": f"{_UCO}observable/",
    "uco-tool": f"{_UCO}tool/",
    "uco-types": f"{_UCO}types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
# The defining contexts of the two external references every custody action carries.
LEDGER_SEQ = "Exhibit custody ledger: sequence number"
LEDGER_ENTRY_HASH = "Exhibit custody ledger: entry hash (SHA-256 of the event's canonical JSON)"
EXPORT_NAME = "CASE/UCO export"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:exhibit:case-uco")
_HASHES = (("MD5", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"))


@dataclass(frozen=True, slots=True)
class UcoExportOutcome:
    out: str
    case_ref: str
    exhibits: tuple[str, ...]
    nodes: int
    custody_events: int
    derivatives: int
    document_sha256: str
    exported_at: str

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        return {
            "case": fields.pop("case_ref"),
            "format": FORMAT,
            "case_version": CASE_VERSION,
            **fields,
            "exhibits": list(self.exhibits),
        }


def _iri(kind: str, *key: object) -> str:
    """`kb:<kind>-<uuid5>`: the same thing always gets the same IRI, and it ends in a UUID as UCO suggests."""
    return f"kb:{kind}-{uuid.uuid5(_NAMESPACE, '|'.join([kind, *map(str, key)]))}"


def _ref(iri: str) -> dict[str, str]:
    return {"@id": iri}


def _typed(datatype: str, value: object) -> dict[str, str]:
    return {"@type": f"xsd:{datatype}", "@value": str(value)}


def _when(value: str | None) -> dict[str, str] | None:
    """An xsd:dateTime from a stored UTC time; None for times we hold only as text we cannot vouch for."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return _typed("dateTime", format_time(moment))


class _Graph:
    """Nodes by IRI, in the order first added; a node added twice is merged (same IRI, same thing)."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}

    def add(self, node: dict[str, Any]) -> str:
        iri = str(node["@id"])
        clean = {k: v for k, v in node.items() if v is not None and v != []}
        if iri in self.nodes:
            self.nodes[iri].update(clean)
        else:
            self.nodes[iri] = clean
        return iri


@dataclass(frozen=True, slots=True)
class _Digests:
    sha256: str
    md5: str
    sha1: str
    size: int
    media_type: str

    @classmethod
    def of(cls, row: StoredObject) -> _Digests:
        return cls(row.sha256, row.md5, row.sha1, row.size, row.media_type)


def _file(graph: _Graph, key: str, name: str, digests: _Digests, description: str | None = None) -> str:
    """A `uco-observable:File` with its name, size and three hashes (the hash nodes named by the digest)."""
    iri = _iri("file", key)
    hashes = []
    for method, attribute in _HASHES:
        value = getattr(digests, attribute)
        hashes.append(
            graph.add(
                {
                    "@id": _iri("hash", method, value),
                    "@type": "uco-types:Hash",
                    "uco-types:hashMethod": method,
                    "uco-types:hashValue": _typed("hexBinary", value),
                }
            )
        )
    return graph.add(
        {
            "@id": iri,
            "@type": "uco-observable:File",
            "uco-core:name": name,
            "uco-core:description": description,
            "uco-core:hasFacet": [
                {
                    "@id": _iri("file-facet", key),
                    "@type": "uco-observable:FileFacet",
                    "uco-observable:fileName": name,
                    "uco-observable:sizeInBytes": digests.size,
                },
                {
                    "@id": _iri("content-data-facet", key),
                    "@type": "uco-observable:ContentDataFacet",
                    "uco-observable:mimeType": digests.media_type,
                    "uco-observable:sizeInBytes": digests.size,
                    "uco-observable:hash": [_ref(h) for h in hashes],
                },
            ],
        }
    )


def _identity(graph: _Graph, name: str, role: str) -> str:
    """A user as a `uco-identity:Person`; the service (pipelines, schedules) as a plain `Identity`."""
    return graph.add(
        {
            "@id": _iri("identity", name, role),
            "@type": "uco-identity:Identity" if role in (SERVICE_ROLE, "unknown") else "uco-identity:Person",
            "uco-core:name": name,
            "uco-core:description": f"Exhibit {'service' if role == SERVICE_ROLE else 'user'}, role {role}",
        }
    )


def _tool(graph: _Graph, name: str, version: str, parameters: Mapping[str, Any]) -> str:
    """The tool that made a derivative, configured with its exact parameters (`uco-tool:ConfiguredTool`)."""
    base = graph.add(
        {
            "@id": _iri("tool", name, version),
            "@type": "uco-tool:Tool",
            "uco-core:name": name,
            "uco-tool:version": version,
        }
    )
    canonical = json.dumps(dict(parameters), sort_keys=True, separators=(",", ":"))
    entries = [
        {
            "@id": _iri("configuration-entry", name, version, canonical, key),
            "@type": "uco-configuration:ConfigurationEntry",
            "uco-configuration:itemName": key,
            "uco-configuration:itemValue": value if isinstance(value, str) else json.dumps(value, sort_keys=True),
        }
        for key, value in sorted(parameters.items())
    ]
    configuration = graph.add(
        {
            "@id": _iri("configuration", name, version, canonical),
            "@type": "uco-configuration:Configuration",
            "uco-core:description": f"parameters {canonical}",
            "uco-configuration:configurationEntry": entries,
        }
    )
    return graph.add(
        {
            "@id": _iri("configured-tool", name, version, canonical),
            "@type": "uco-tool:ConfiguredTool",
            "uco-core:name": name,
            "uco-tool:version": version,
            "uco-configuration:isConfigurationOf": _ref(base),
            "uco-configuration:usesConfiguration": _ref(configuration),
        }
    )


def _ledger_references(event: CustodyEvent) -> list[dict[str, Any]]:
    return [
        {
            "@id": _iri("external-reference", "seq", event.seq, event.entry_hash),
            "@type": "uco-core:ExternalReference",
            "uco-core:definingContext": LEDGER_SEQ,
            "uco-core:externalIdentifier": str(event.seq),
        },
        {
            "@id": _iri("external-reference", "entry-hash", event.entry_hash),
            "@type": "uco-core:ExternalReference",
            "uco-core:definingContext": LEDGER_ENTRY_HASH,
            "uco-core:externalIdentifier": event.entry_hash,
        },
    ]


@dataclass(slots=True)
class _ExhibitNodes:
    reference: str
    file: str
    record: str
    original_sha256: str
    derivatives: dict[str, str]  # derivative sha256 -> its File IRI


def _facts(graph: _Graph, case_ref: str, exhibit: _ExhibitNodes, fact: ExhibitFact) -> None:
    """The camera, time and place the catalog projected from the exhibit's EXIF or container metadata."""
    entries = {
        "Make": fact.make,
        "Model": fact.model,
        "BodySerialNumber": fact.serial,
        "Software": fact.software,
        "DateTimeOriginal": fact.time_local,
        "GPSLatitude": None if fact.latitude is None else str(fact.latitude),
        "GPSLongitude": None if fact.longitude is None else str(fact.longitude),
    }
    present = {k: v for k, v in entries.items() if v not in (None, "")}
    key = (case_ref, exhibit.reference)
    if fact.source_table == "photo_metadata" and present:
        dictionary = {
            "@id": _iri("exif-dictionary", *key),
            "@type": "uco-types:ControlledDictionary",
            "uco-types:entry": [
                {
                    "@id": _iri("exif-entry", *key, name),
                    "@type": "uco-types:ControlledDictionaryEntry",
                    "uco-types:key": name,
                    "uco-types:value": value,
                }
                for name, value in present.items()
            ],
        }
        node = graph.nodes[exhibit.file]
        node["uco-core:hasFacet"].append(
            {
                "@id": _iri("exif-facet", *key),
                "@type": "uco-observable:EXIFFacet",
                "uco-observable:exifData": dictionary,
            }
        )
    device = location = None
    if fact.make or fact.model or fact.serial:
        maker = (
            graph.add(
                {
                    "@id": _iri("identity", "manufacturer", fact.make),
                    "@type": "uco-identity:Identity",
                    "uco-core:name": fact.make,
                }
            )
            if fact.make
            else None
        )
        device = graph.add(
            {
                "@id": _iri("device", fact.make, fact.model, fact.serial),
                "@type": "uco-observable:Device",
                "uco-core:hasFacet": [
                    {
                        "@id": _iri("device-facet", fact.make, fact.model, fact.serial),
                        "@type": "uco-observable:DeviceFacet",
                        "uco-observable:manufacturer": _ref(maker) if maker else None,
                        "uco-observable:model": fact.model,
                        "uco-observable:serialNumber": fact.serial,
                    }
                ],
            }
        )
    if fact.latitude is not None and fact.longitude is not None:
        location = graph.add(
            {
                "@id": _iri("location", *key),
                "@type": "uco-location:Location",
                "uco-core:hasFacet": [
                    {
                        "@id": _iri("lat-long-facet", *key),
                        "@type": "uco-location:LatLongCoordinatesFacet",
                        "uco-location:latitude": _typed("decimal", Decimal(str(fact.latitude))),
                        "uco-location:longitude": _typed("decimal", Decimal(str(fact.longitude))),
                    }
                ],
            }
        )
    if device or location or fact.time_utc:
        what = "photographed" if fact.source_table == "photo_metadata" else "recorded"
        reliability = ", ".join(x for x in (fact.time_source, fact.time_reliability) if x)
        graph.add(
            {
                "@id": _iri("capture-action", *key),
                "@type": "uco-action:Action",
                "uco-core:name": what,
                "uco-core:description": f"as the exhibit's own metadata says ({fact.source_table})"
                + (f"; time from {reliability}" if reliability else ""),
                "uco-action:startTime": _when(fact.time_utc),
                "uco-action:instrument": [_ref(device)] if device else None,
                "uco-action:location": [_ref(location)] if location else None,
                "uco-action:result": [_ref(exhibit.file)],
            }
        )


def _custody_action(graph: _Graph, event: CustodyEvent, exhibits: dict[int, _ExhibitNodes], investigation: str) -> str:
    exhibit = exhibits.get(event.exhibit_id) if event.exhibit_id is not None else None
    details = dict(event.details)
    objects: list[str] = [exhibit.file] if exhibit else [investigation]
    results: list[str] = []
    instrument: str | None = None
    descriptions = [event.reason] if event.reason else []
    if exhibit and event.action == CustodyAction.RECEIVED.value:
        results.append(exhibit.record)
    made = exhibit.derivatives.get(event.object_sha256 or "") if exhibit else None
    if exhibit and event.action == CustodyAction.DERIVED.value and made:
        source = str(details.get("source_sha256") or "")
        objects = [exhibit.file if source == exhibit.original_sha256 else exhibit.derivatives.get(source, exhibit.file)]
        results.append(made)
        if details.get("tool") and details.get("tool_version"):
            parameters = details.get("parameters")
            instrument = _tool(
                graph,
                str(details["tool"]),
                str(details["tool_version"]),
                parameters if isinstance(parameters, Mapping) else {},
            )
        descriptions.append(f"made the {details.get('role')} derivative")
    elif exhibit and event.action == CustodyAction.DERIVED.value and details.get("child_exhibit_ref"):
        descriptions.append(f"extracted {details['child_exhibit_ref']} from the image at {details.get('path')}")
        child = exhibits.get(int(details.get("child_exhibit_id") or 0))
        results.extend([child.file] if child else [])
    descriptions.append(f"custody ledger event {event.seq}, entry hash {event.entry_hash}, signed by {event.key_id}")
    return graph.add(
        {
            "@id": _iri("investigative-action", event.seq, event.entry_hash),
            "@type": "case-investigation:InvestigativeAction",
            "uco-core:name": event.action,
            "uco-core:description": descriptions,
            "uco-core:externalReference": _ledger_references(event),
            "uco-action:startTime": _when(event.recorded_at),
            "uco-action:performer": _ref(_identity(graph, event.actor, event.role)),
            "uco-action:instrument": [_ref(instrument)] if instrument else None,
            "uco-action:object": [_ref(o) for o in objects],
            "uco-action:result": [_ref(r) for r in results],
        }
    )


def _exhibit_nodes(graph: _Graph, case_ref: str, exhibit: Exhibit) -> _ExhibitNodes:
    original = _Digests.of(exhibit.original)
    file = _file(
        graph,
        f"{case_ref}|{exhibit.reference}|original|{original.sha256}",
        exhibit.source_name,
        original,
        f"original of exhibit {exhibit.reference} ({exhibit.kind})",
    )
    record = graph.add(
        {
            "@id": _iri("provenance-record", case_ref, exhibit.reference),
            "@type": "case-investigation:ProvenanceRecord",
            "case-investigation:exhibitNumber": exhibit.reference,
            "uco-core:name": f"{case_ref}:{exhibit.reference}",
            "uco-core:description": [
                d
                for d in (
                    exhibit.description,
                    f"kind {exhibit.kind}, status {exhibit.status}, produced by {exhibit.producer}",
                    f"seized from {exhibit.seized_from}" if exhibit.seized_from else None,
                    f"seized at {exhibit.seized_at}" if exhibit.seized_at else None,
                )
                if d
            ],
            "uco-core:objectCreatedTime": _when(exhibit.received_at),
            "uco-core:object": [_ref(file)],
        }
    )
    return _ExhibitNodes(exhibit.reference, file, record, original.sha256, {})


def _investigation(graph: _Graph, case_ref: str, title: str, status: str, officer: str | None) -> str:
    investigation = _iri("investigation", case_ref)
    graph.add(
        {
            "@id": investigation,
            "@type": "case-investigation:Investigation",
            "uco-core:name": case_ref,
            "uco-core:description": title,
            "case-investigation:investigationForm": "case",
            "case-investigation:investigationStatus": status,
        }
    )
    if officer:
        person = graph.add(
            {
                "@id": _iri("officer", case_ref, officer),
                "@type": "uco-identity:Person",
                "uco-core:name": officer,
                "uco-core:description": "officer in charge of the case",
            }
        )
        graph.add(
            {
                "@id": _iri("relationship", "officer-in-charge", case_ref, officer),
                "@type": "uco-core:Relationship",
                "uco-core:source": [_ref(person)],
                "uco-core:target": _ref(investigation),
                "uco-core:kindOfRelationship": "Officer_In_Charge_Of",
                "uco-core:isDirectional": True,
            }
        )
    return investigation


def _children(graph: _Graph, case_ref: str, exhibits: Iterable[Exhibit], nodes: dict[int, _ExhibitNodes]) -> None:
    """Files extracted from a device image are `Contained_Within` the image, at the path they were found."""
    for exhibit in exhibits:
        parent = nodes.get(exhibit.parent_id) if exhibit.parent_id is not None else None
        if parent is None:
            continue
        prefix = f"{parent.reference}:"
        path = exhibit.source_path[len(prefix) :] if exhibit.source_path.startswith(prefix) else exhibit.source_path
        key = (case_ref, exhibit.reference, parent.reference)
        graph.add(
            {
                "@id": _iri("relationship", "contained-within", *key),
                "@type": "uco-observable:ObservableRelationship",
                "uco-core:source": [_ref(nodes[exhibit.id].file)],
                "uco-core:target": _ref(parent.file),
                "uco-core:kindOfRelationship": "Contained_Within",
                "uco-core:isDirectional": True,
                "uco-core:hasFacet": [
                    {
                        "@id": _iri("path-relation-facet", *key),
                        "@type": "uco-observable:PathRelationFacet",
                        "uco-observable:path": path,
                    }
                ],
            }
        )


def case_uco_document(
    system: EvidenceSystem,
    actor: Actor,
    case_ref: str,
    *,
    reason: str | None = None,
    exported_at: str | None = None,
    exhibit_ids: Collection[int] | None = None,
) -> dict[str, Any]:
    """The case's custody and findings as a CASE/UCO JSON-LD document (`@context` and `@graph`).

    The caller records the export: `write_case_uco` does (EXPORTED events with the document's digest).

    Args:
        reason: Why it is exported (required, as for any export).
        exported_at: The export time to state (UTC, ledger format); now by default.
        exhibit_ids: Only these exhibits and their own events (a bundle of one schedule's exhibits): the case's
            other exhibits and its case-wide events (disclosure decisions among them) are left out, so nothing
            about material that is not being handed over leaves with it.

    Raises:
        AccessDeniedError: not a disclosure officer or supervisor of the case, or no reason (recorded).
        NotFoundError: no such case.
    """
    with system.catalog.reading() as session:
        case = get_case(session, case_ref)
        authorize(system, session, actor, Permission.EXPORT, case, reason=reason)
        graph = _Graph()
        investigation = _investigation(graph, case_ref, case.title, case.status, case.officer_in_charge)
        exhibits = [
            e
            for e in session.execute(select(Exhibit).where(Exhibit.case_id == case.id).order_by(Exhibit.id)).scalars()
            if exhibit_ids is None or e.id in exhibit_ids
        ]
        nodes = {e.id: _exhibit_nodes(graph, case_ref, e) for e in exhibits}
        _children(graph, case_ref, exhibits, nodes)
        derivatives = session.execute(
            select(Derivative, StoredObject)
            .join(StoredObject, StoredObject.sha256 == Derivative.sha256)
            .where(Derivative.exhibit_id.in_(list(nodes)))
            .order_by(Derivative.id)
        ).all()
        for derivative, stored in derivatives:
            owner = nodes[derivative.exhibit_id]
            key = f"{case_ref}|{owner.reference}|derivative|{stored.sha256}"
            name = f"{owner.reference} {derivative.role}"
            owner.derivatives[stored.sha256] = _file(
                graph, key, name, _Digests.of(stored), f"{derivative.role} derivative of exhibit {owner.reference}"
            )
        facts = session.execute(
            select(ExhibitFact).where(ExhibitFact.case_id == case.id).order_by(ExhibitFact.exhibit_id)
        )
        for fact in facts.scalars():
            if fact.exhibit_id in nodes:
                _facts(graph, case_ref, nodes[fact.exhibit_id], fact)
        events = 0
        for event in Ledger.iter(session, case_ref=case_ref):
            if exhibit_ids is not None and event.exhibit_id not in nodes:
                continue
            _custody_action(graph, event, nodes, investigation)
            events += 1
    # The investigation gathers every object of the graph; hashes are characteristics of files, not objects.
    graph.nodes[investigation]["uco-core:object"] = [
        _ref(iri) for iri, node in graph.nodes.items() if iri != investigation and node["@type"] != "uco-types:Hash"
    ]
    when = exported_at or format_time(datetime.now(UTC))
    performer = _identity(graph, actor.name, actor.role)
    graph.add(
        {
            "@id": _iri("export-action", case_ref, when, actor.name),
            "@type": "case-investigation:InvestigativeAction",
            "uco-core:name": EXPORT_NAME,
            "uco-core:description": [
                f"{FORMAT} (CASE {CASE_VERSION}) of case {case_ref}: {len(nodes)} exhibit(s), {events} custody "
                f"event(s), {len(derivatives)} derivative(s)",
                *([reason.strip()] if reason and reason.strip() else []),
            ],
            "uco-action:startTime": _typed("dateTime", when),
            "uco-action:performer": _ref(performer),
            "uco-action:object": [_ref(investigation)],
        }
    )
    return {"@context": dict(CONTEXT), "@graph": list(graph.nodes.values())}


def write_case_uco(
    system: EvidenceSystem, actor: Actor, case_ref: str, out: Path, *, reason: str | None
) -> UcoExportOutcome:
    """Writes the case's CASE/UCO JSON-LD to `out` and records the export on the ledger: an EXPORTED event per
    exhibit (one for the case when it has none) naming the format, the file and the document's SHA-256.

    Raises:
        AccessDeniedError: not a disclosure officer or supervisor of the case, or no reason (recorded).
        NotFoundError: no such case.
    """
    exported_at = format_time(datetime.now(UTC))
    document = case_uco_document(system, actor, case_ref, reason=reason, exported_at=exported_at)
    body = (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode()
    digest = hashlib.sha256(body).hexdigest()
    with written_whole(out) as partial:
        partial.write_bytes(body)
    graph = document["@graph"]
    details = {"format": FORMAT, "case_version": CASE_VERSION, "file": out.name, "document_sha256": digest}
    with system.catalog.transaction() as session:
        case = get_case(session, case_ref)
        exhibits = session.execute(
            select(Exhibit.id, Exhibit.reference, Exhibit.original_sha256)
            .where(Exhibit.case_id == case.id)
            .order_by(Exhibit.id)
        ).all()
        targets: list[tuple[int | None, str | None]] = [(e.id, e.original_sha256) for e in exhibits]
        exported = [(exhibit_id, sha256, details) for exhibit_id, sha256 in targets or [(None, None)]]
        record_exports(system, session, actor, case_ref, exported, reason)
    return UcoExportOutcome(
        out=str(out),
        case_ref=case_ref,
        exhibits=tuple(e.reference for e in exhibits),
        nodes=len(graph),
        custody_events=sum(1 for n in graph if n.get("uco-core:externalReference")),
        derivatives=sum(1 for n in graph if n.get("uco-core:name") == "DERIVED" and n.get("uco-action:instrument")),
        document_sha256=digest,
        exported_at=exported_at,
    )
