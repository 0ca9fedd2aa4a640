"""A case's custody and findings as CASE/UCO JSON-LD: the graph's content, access, the ledger record, determinism."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from evidence_store.access import Actor, add_member, add_user
from evidence_store.case_uco import (
    CONTEXT,
    EXPORT_NAME,
    LEDGER_ENTRY_HASH,
    LEDGER_SEQ,
    case_uco_document,
    write_case_uco,
)
from evidence_store.cases import create_case
from evidence_store.catalog import CustodyEventRow
from evidence_store.derivatives import Provenance, record_derivative
from evidence_store.errors import AccessDeniedError
from evidence_store.extraction import record_extracted
from evidence_store.facts import project_facts
from evidence_store.intake import IngestOutcome, IngestRequest, ingest
from evidence_store.system import EvidenceSystem

CASE = "OP-UCO"
SINGLE = pytest.mark.parametrize("settings", ["file-sqlite"], indirect=True)
CORE, OBS, TYPES, ACTION, INV = (
    CONTEXT["uco-core"],
    CONTEXT["uco-observable"],
    CONTEXT["uco-types"],
    CONTEXT["uco-action"],
    CONTEXT["case-investigation"],
)
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


@dataclass(frozen=True, slots=True)
class Made:
    officer: Actor
    exhibits: list[IngestOutcome]  # JS/1 (the "image"), JS/2 (a photo with facts), and the child of JS/1
    proxy_sha256: str


@pytest.fixture
def made(system: EvidenceSystem, admin: Actor, analyst: Actor, tmp_path: Path) -> Made:
    """A case of two exhibits, a derivative of JS/2 (a proxy made by ffmpeg), EXIF facts of JS/2, and a file
    extracted from JS/1 as its child; a disclosure officer who may export it."""
    create_case(system, analyst, CASE, "Burglary, 14 Acacia Avenue", officer_in_charge="DC Brown")
    exhibits = []
    for n in range(1, 3):
        path = tmp_path / f"item{n}.bin"
        path.write_bytes(f"exhibit {n}\n".encode() * (n * 500))
        exhibits.extend(ingest(system, analyst, [path], IngestRequest(case_ref=CASE, by="Jane Smith")))
    image, photo = exhibits
    assert image.exhibit_id and photo.exhibit_id and photo.sha256
    proxy = tmp_path / "proxy.mp4"
    proxy.write_bytes(b"proxy bytes")
    provenance = Provenance(photo.sha256, "ffmpeg", "6.1.1", {"crf": 23, "scale": "1280:-2"})
    derivative = record_derivative(system, analyst, photo.exhibit_id, "review_proxy", proxy, provenance)
    facts = {"make": "Canon", "model": "PowerShot SX540", "serial": "123", "taken_utc": "2026-06-01T10:15:00Z",
             "latitude": 50.7192, "longitude": -1.8808}  # fmt: skip
    project_facts(system, photo.exhibit_id, "photo_metadata", pa.Table.from_pylist([facts]))
    found = tmp_path / "IMG_0001.JPG"
    found.write_bytes(b"a file found on the image")
    child = record_extracted(system, analyst, image.exhibit_id, found, {"path": "/DCIM/IMG_0001.JPG", "volume": 1})
    officer = add_user(system, admin, "do.patel", "disclosure_officer")
    add_member(system, admin, CASE, "do.patel")
    extracted = IngestOutcome(path=str(found), exhibit_id=child.exhibit_id, exhibit_ref=child.exhibit_ref,
                              sha256=child.sha256)  # fmt: skip
    return Made(officer, [image, photo, extracted], derivative.sha256)


class Triples:
    """Just enough JSON-LD for our own documents (compact IRIs, nested node objects, typed values), so the graph
    is checked as RDF without a JSON-LD library: subject -> predicate -> values."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.context = document["@context"]
        self.edges: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for node in document["@graph"]:
            self._node(node)

    def iri(self, compact: str) -> str:
        prefix, _, rest = compact.partition(":")
        assert prefix in self.context, f"{compact}: prefix {prefix!r} is not in the @context"
        return str(self.context[prefix]) + rest

    def _value(self, value: Any) -> Any:
        if isinstance(value, dict) and "@value" in value:
            return (value["@value"], self.iri(value["@type"]))
        if isinstance(value, dict):
            return self._node(value) if len(value) > 1 else self.iri(value["@id"])
        return value

    def _node(self, node: dict[str, Any]) -> str:
        subject = self.iri(node["@id"])
        for key, value in node.items():
            if key == "@id":
                continue
            values = value if isinstance(value, list) else [value]
            if key == "@type":
                self.edges[subject][RDF_TYPE].extend(self.iri(v) for v in values)
            else:
                self.edges[subject][self.iri(key)].extend(self._value(v) for v in values)
        return subject

    def of_type(self, class_iri: str) -> list[str]:
        return [s for s, p in self.edges.items() if class_iri in p[RDF_TYPE]]

    def get(self, subject: str, predicate: str) -> list[Any]:
        return self.edges.get(subject, {}).get(predicate, [])

    def one(self, subject: str, predicate: str) -> Any:
        (value,) = self.get(subject, predicate)
        return value

    def hashes(self, file: str) -> dict[str, str]:
        found = {}
        for facet in self.get(file, CORE + "hasFacet"):
            for h in self.get(facet, OBS + "hash"):
                value, datatype = self.one(h, TYPES + "hashValue")
                assert datatype == "http://www.w3.org/2001/XMLSchema#hexBinary"
                found[self.one(h, TYPES + "hashMethod")] = value
        return found


def _document(system: EvidenceSystem, actor: Actor, when: str = "2026-12-01T09:00:00.000000Z") -> dict[str, Any]:
    return case_uco_document(system, actor, CASE, reason="CPS request 12", exported_at=when)


def _by_name(t: Triples, class_iri: str, name: str) -> Iterator[str]:
    return (s for s in t.of_type(class_iri) if name in t.get(s, CORE + "name"))


def test_the_graph_holds_exhibits_derivatives_custody_and_findings(system: EvidenceSystem, made: Made) -> None:
    document = _document(system, made.officer)
    t = Triples(json.loads(json.dumps(document)))  # it is plain JSON
    _image, photo, child = made.exhibits
    files = t.of_type(OBS + "File")
    # Every exhibit: a provenance record with its reference, naming a File that carries its three digests.
    records = {t.one(r, INV + "exhibitNumber"): t.one(r, CORE + "object") for r in t.of_type(INV + "ProvenanceRecord")}
    assert set(records) == {"JS/1", "JS/2", child.exhibit_ref}
    for outcome in made.exhibits:
        file = records[outcome.exhibit_ref]
        assert file in files and t.hashes(file)["SHA256"] == outcome.sha256
    assert t.hashes(records["JS/2"]) == {"MD5": photo.md5, "SHA1": photo.sha1, "SHA256": photo.sha256}
    (investigation,) = t.of_type(INV + "Investigation")
    assert t.one(investigation, CORE + "name") == CASE
    assert "DC Brown" in {t.one(p, CORE + "name") for p in t.of_type(CONTEXT["uco-identity"] + "Person")}

    # The derivative: made by its tool (name, version, parameters) from the original, with its own digests.
    (derived,) = [a for a in _by_name(t, INV + "InvestigativeAction", "DERIVED") if t.get(a, ACTION + "instrument")]
    tool = t.one(derived, ACTION + "instrument")
    assert (t.one(tool, CORE + "name"), t.one(tool, CONTEXT["uco-tool"] + "version")) == ("ffmpeg", "6.1.1")
    configuration = t.one(tool, CONTEXT["uco-configuration"] + "usesConfiguration")
    entries = t.get(configuration, CONTEXT["uco-configuration"] + "configurationEntry")
    assert {(t.one(e, CONTEXT["uco-configuration"] + "itemName"), t.one(e, CONTEXT["uco-configuration"] + "itemValue"))
            for e in entries} == {("crf", "23"), ("scale", "1280:-2")}  # fmt: skip
    assert t.get(derived, ACTION + "object") == [records["JS/2"]]
    assert t.hashes(t.one(derived, ACTION + "result"))["SHA256"] == made.proxy_sha256

    # Custody: every ledger event of the case is an action carrying its sequence number and entry hash.
    with system.catalog.reading() as session:
        events = session.execute(
            select(
                CustodyEventRow.seq, CustodyEventRow.entry_hash, CustodyEventRow.action, CustodyEventRow.actor
            ).where(CustodyEventRow.case_ref == CASE)
        ).all()
    actions = {}
    for action in t.of_type(INV + "InvestigativeAction"):
        refs = {t.one(r, CORE + "definingContext"): t.one(r, CORE + "externalIdentifier")
                for r in t.get(action, CORE + "externalReference")}  # fmt: skip
        if refs:
            actions[int(refs[LEDGER_SEQ])] = (refs[LEDGER_ENTRY_HASH], action)
    assert set(actions) == {e.seq for e in events}
    for event in events:
        entry_hash, action = actions[event.seq]
        assert entry_hash == event.entry_hash and t.one(action, CORE + "name") == event.action
        assert t.one(t.one(action, ACTION + "performer"), CORE + "name") == event.actor
    received = [
        a
        for a in _by_name(t, INV + "InvestigativeAction", "RECEIVED")
        if records["JS/1"] in t.get(a, ACTION + "object")
    ]
    assert received and t.one(received[0], ACTION + "startTime")[1].endswith("#dateTime")

    # The child is Contained_Within the image it was found on, at its path.
    (relationship,) = t.of_type(OBS + "ObservableRelationship")
    assert t.one(relationship, CORE + "kindOfRelationship") == "Contained_Within"
    assert (t.one(relationship, CORE + "source"), t.one(relationship, CORE + "target")) == (
        records[child.exhibit_ref], records["JS/1"])  # fmt: skip
    assert t.one(t.one(relationship, CORE + "hasFacet"), OBS + "path") == "/DCIM/IMG_0001.JPG"

    # Findings: the photo's camera and place.
    (capture,) = _by_name(t, ACTION + "Action", "photographed")
    assert t.one(capture, ACTION + "result") == records["JS/2"]
    location = t.one(capture, ACTION + "location")
    coordinates = t.one(location, CORE + "hasFacet")
    assert t.one(coordinates, CONTEXT["uco-location"] + "latitude")[0] == "50.7192"
    exif = [f for f in t.get(records["JS/2"], CORE + "hasFacet") if OBS + "EXIFFacet" in t.get(f, RDF_TYPE)]
    dictionary = t.one(exif[0], OBS + "exifData")
    assert {t.one(e, TYPES + "key"): t.one(e, TYPES + "value") for e in t.get(dictionary, TYPES + "entry")}[
        "Make"
    ] == "Canon"
    # Nothing is a blank node, and every IRI ends in a UUID (UCO's advice).
    assert all(s.startswith("urn:exhibit:kb:") and len(s.rsplit("-", 5)[-1]) == 12 for s in t.edges)


@SINGLE
def test_the_graph_parses_as_rdf(system: EvidenceSystem, made: Made) -> None:
    import rdflib

    graph = rdflib.Graph().parse(data=json.dumps(_document(system, made.officer)), format="json-ld")
    query = """
        SELECT ?value WHERE {
            ?file a uco-observable:File ; uco-core:hasFacet/uco-observable:hash ?hash .
            ?hash uco-types:hashMethod "SHA256" ; uco-types:hashValue ?value .
        }"""
    found = {str(row[0]) for row in graph.query(query, initNs=CONTEXT)}
    assert {o.sha256 for o in made.exhibits} | {made.proxy_sha256} <= found
    tools = graph.query(
        """SELECT ?name WHERE {
            ?action a case-investigation:InvestigativeAction ; uco-action:instrument ?tool .
            ?tool uco-core:name ?name .
        }""",
        initNs=CONTEXT,
    )
    assert {str(row[0]) for row in tools} == {"ffmpeg"}


@SINGLE
def test_same_state_same_graph_but_the_export_time(system: EvidenceSystem, made: Made) -> None:
    first, second = _document(system, made.officer), _document(system, made.officer, "2026-12-02T09:00:00.000000Z")

    def without_export(document: dict[str, Any]) -> list[dict[str, Any]]:
        return [n for n in document["@graph"] if n.get("uco-core:name") != EXPORT_NAME]

    assert first != second and without_export(first) == without_export(second)
    assert first["@context"] == second["@context"]


@SINGLE
def test_the_export_is_written_and_recorded(system: EvidenceSystem, made: Made, tmp_path: Path) -> None:
    out = tmp_path / "out" / "case.jsonld"
    outcome = write_case_uco(system, made.officer, CASE, out, reason="CPS request 12")
    body = out.read_bytes()
    assert outcome.document_sha256 == hashlib.sha256(body).hexdigest()
    assert json.loads(body)["@context"]["case-investigation"] == "https://ontology.caseontology.org/case/investigation/"
    assert outcome.exhibits == ("JS/1", "JS/2", made.exhibits[2].exhibit_ref) and outcome.derivatives == 1
    with system.catalog.reading() as session:
        rows = list(session.execute(select(CustodyEventRow).where(CustodyEventRow.action == "EXPORTED")).scalars())
    assert sorted(r.exhibit_id or 0 for r in rows) == sorted(o.exhibit_id or 0 for o in made.exhibits)
    assert all(r.actor == "do.patel" and r.reason == "CPS request 12" for r in rows)
    details = json.loads(rows[0].details)
    assert (details["format"], details["document_sha256"], details["file"]) == (
        "CASE/UCO JSON-LD", outcome.document_sha256, "case.jsonld")  # fmt: skip
    assert not list(tmp_path.glob("out/*.partial"))


@SINGLE
def test_a_non_member_or_no_reason_is_refused_and_recorded(
    system: EvidenceSystem, made: Made, admin: Actor, analyst: Actor, tmp_path: Path
) -> None:
    outsider = add_user(system, admin, "sup.khan", "supervisor")
    with pytest.raises(AccessDeniedError, match="not a member") as refused:
        write_case_uco(system, outsider, CASE, tmp_path / "a.jsonld", reason="curious")
    assert refused.value.code == "EX-ACCESS-DENIED"
    with pytest.raises(AccessDeniedError, match="may not export"):
        case_uco_document(system, analyst, CASE, reason="because")
    with pytest.raises(AccessDeniedError, match="reason"):
        write_case_uco(system, made.officer, CASE, tmp_path / "b.jsonld", reason=" ")
    assert not list(tmp_path.glob("*.jsonld"))
    with system.catalog.reading() as session:
        denied = session.execute(select(CustodyEventRow).where(CustodyEventRow.action == "ACCESS_DENIED")).scalars()
        actors = [r.actor for r in denied]
        exported = session.execute(select(CustodyEventRow).where(CustodyEventRow.action == "EXPORTED")).first()
    assert actors == ["sup.khan", analyst.name, "do.patel"] and exported is None


@SINGLE
def test_the_graph_conforms_to_the_case_ontology(system: EvidenceSystem, made: Made, tmp_path: Path) -> None:
    """case-utils' own validator (SHACL shapes of CASE 1.5.0 / UCO 1.4.0): no violations and no warnings."""
    import subprocess
    import sys

    path = tmp_path / "case.jsonld"
    path.write_text(json.dumps(_document(system, made.officer)), encoding="utf-8")
    validator = Path(sys.executable).parent / "case_validate"
    done = subprocess.run(
        [str(validator), "--built-version", "case-1.5.0", "--allow-infos", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Conforms: True" in done.stdout
