"""Build `src/fairtracks_ld/generator_terms.json`, the term table behind `fairtracks_ld.generate`.

Dev-time only: it reads the ontology releases in /work/shared/ontologies (not available at run
time or in CI) and the vendored FAIRtracks schemas, and writes a small JSON table of real term IRIs
with their exact labels, so that the generator never needs the ontologies themselves.

    .venv/bin/python scripts/extract_generator_terms.py [--source DIR] [--out FILE]

Every curated IRI below is checked against the release it comes from (exists, not obsolete or
deprecated, has the expected label, descends from the ancestor the FAIRtracks schema names); the
script fails loudly instead of writing a table with a wrong term.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import zstandard
from lxml import etree

from fairtracks_ld.ontology.ncit import LABELS_FROM_NCIT

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = Path("/work/shared/ontologies")
DEFAULT_OUT = ROOT / "src" / "fairtracks_ld" / "generator_terms.json"
SCHEMA_DIR = ROOT / "standard" / "v1-current" / "schema"

OBO = "http://purl.obolibrary.org/obo/"
EDAM = "http://edamontology.org/"
EFO_IRI = "http://www.ebi.ac.uk/efo/"

SOURCES = {
    "OBI": {"file": "obi.obo", "version": "2026-05-08", "licence": "CC BY 4.0"},
    "SO": {"file": "so.obo", "version": "2024-11-18", "licence": "CC BY 4.0"},
    "CL": {
        "file": "cl-basic.obo",
        "version": "2022-12-15",
        "licence": "CC BY 4.0",
        "note": "only terms live with the same label in CL 2026-03-26 "
        "(cellxgene/CL-ontology-v2026-03-26.json.zst) too",
    },
    "EDAM": {"file": "EDAM_1.25.owl", "version": "1.25", "licence": "CC BY-SA 4.0"},
    "UBERON": {
        "file": "cellxgene/UBERON-ontology-v2026-04-01.json.zst",
        "version": "2026-04-01",
        "licence": "CC BY 3.0",
        "note": "closure over is_a and part_of (cellxgene-ontology-guide 1.11.1)",
    },
    "EFO": {
        "file": "cellxgene/EFO-ontology-v3.90.0.json.zst",
        "version": "3.90.0",
        "licence": "Apache 2.0",
        "note": "closure with non-EFO ancestors removed (cellxgene-ontology-guide 1.11.1)",
    },
    "NCIT": {
        "file": "standard/*/schema/fairtracks_sample.schema.json, fairtracks_phenotype.schema.json",
        "version": "as named by the FAIRtracks schemas",
        "licence": "CC BY 4.0",
        "note": "NCIT is not available offline: only terms named by the schemas; labels from "
        "the schemas, else from fairtracks_ld.ontology.ncit (see label_notes), else null",
    },
    "HGNC": {
        "file": "curated list in scripts/extract_generator_terms.py",
        "version": "HGNC IDs/symbols as listed in the MII FHIR ValueSet "
        "mii-vs-mtb-panel-ofa-plus 2026.0.1",
        "licence": "CC0 (HGNC data)",
    },
}

# URLs for doc_info.doc_ontology_versions; they must match each variant's schema pattern.
# v1-current only accepts SO tags of the form vX.Y, which cannot name the dated 2024-11-18
# release, and neither variant can name an NCIT release we hold: both fall back to the schema's
# own example value (documented in the JSON under "version_caveats").
ONTOLOGY_VERSIONS = {
    "v1-current": {
        "http://edamontology.org/EDAM.owl": "http://edamontology.org/EDAM_1.25.owl",
        f"{OBO}cl.owl": f"{OBO}cl/releases/2022-12-15/cl.owl",
        "http://www.ebi.ac.uk/efo/efo.owl": (
            "https://github.com/EBISPOT/efo/releases/download/v3.90.0/efo.owl"
        ),
        f"{OBO}ncit.owl": f"{OBO}ncit/releases/2019-09-09/ncit.owl",
        f"{OBO}obi.owl": f"{OBO}obi/2026-05-08/obi.owl",
        f"{OBO}so.owl": (
            "https://raw.githubusercontent.com/The-Sequence-Ontology/SO-Ontologies/v3.1/"
            "releases/so-xp.owl/so.owl"
        ),
        f"{OBO}uberon.owl": f"{OBO}uberon/releases/2026-04-01/uberon.owl",
    },
    "master": {
        "http://edamontology.org/EDAM.owl": "http://edamontology.org/EDAM_1.25.owl",
        f"{OBO}cl.owl": f"{OBO}cl/releases/2022-12-15/cl.owl",
        "http://www.ebi.ac.uk/efo/efo.owl": "http://www.ebi.ac.uk/efo/releases/v3.90.0/efo.owl",
        f"{OBO}ncit.owl": f"{OBO}ncit/releases/2020-07-17/ncit.owl",
        f"{OBO}obi.owl": f"{OBO}obi/2026-05-08/obi.owl",
        f"{OBO}so.owl": f"{OBO}so/2024-11-18/so.owl",
        f"{OBO}uberon.owl": f"{OBO}uberon/releases/2026-04-01/uberon.owl",
    },
}
VERSION_CAVEATS = [
    "v1-current SO URL: the schema pattern only accepts vX.Y tags; the SO release used is "
    "2024-11-18, so the schema's example tag v3.1 is written instead.",
    "NCIT URLs: no NCIT release is available offline; the schema example dates are written.",
]

# (OBI CURIE, expected label, family, short name for track labels). The family decides the
# experiment target and the track outputs in fairtracks_ld.generate.
TECHNIQUES = [
    ("OBI:0000716", "ChIP-seq assay", "chip", "ChIP"),
    ("OBI:0002017", "histone modification identification by ChIP-Seq assay", "histone", "ChIP"),
    ("OBI:0002019", "transcription factor binding site identification by ChIP-Seq assay", "tf",
     "ChIP"),
    ("OBI:0001853", "DNase I hypersensitive sites sequencing assay", "dnase", "DNase"),
    ("OBI:0002039", "assay for transposase-accessible chromatin using sequencing", "atac", "ATAC"),
    ("OBI:0003089", "bulk assay for transposase-accessible chromatin using sequencing", "atac",
     "ATAC"),
    ("OBI:0000748", "bisulfite sequencing assay", "bisulfite", "BS"),
    ("OBI:0001863", "shotgun bisulfite-seq assay", "methylation", "WGBS"),
    ("OBI:0001862", "reduced representation bisulfite sequencing assay", "methylation", "RRBS"),
    ("OBI:0000693", "MeDIP-seq assay", "methylation", "MeDIP"),
    ("OBI:0001271", "RNA-seq assay", "rna", "RNA"),
    ("OBI:0002571", "polyA-selected RNA sequencing assay", "rna_other", "RNA"),
    ("OBI:0003090", "bulk RNA-seq assay", "rna_other", "RNA"),
    ("OBI:0002759", "ribosomal RNA-depleted RNA sequencing assay", "rna_other", "RNA"),
    ("OBI:0001922", "microRNA profiling by high throughput sequencing assay", "mirna", "miRNA"),
    ("OBI:0002440", "Hi-C assay", "hic", "Hi-C"),
    ("OBI:0001848", "chromatin interaction analysis by paired-end tag sequencing assay",
     "chiapet", "ChIA"),
    ("OBI:0002117", "whole genome sequencing assay", "variants", "WGS"),
    ("OBI:0002118", "exome sequencing assay", "variants", "WES"),
]

# SO terms used as fixed experiment targets (expected label; all must descend from SO:0000110).
SO_FIXED = {
    "SO:0000685": "DNaseI_hypersensitive_site",
    "SO:0001747": "open_chromatin_region",
    "SO:0000114": "methylated_cytosine",
    "SO:0000234": "mRNA",
    "SO:0000276": "miRNA",
    "SO:0000673": "transcript",
    "SO:0000235": "TF_binding_site",
    "SO:0001059": "sequence_alteration",
}
SPECIFIC_HISTONE_MARK = re.compile(r"^H(2A|2AZ|2B|3|4)[KR]\d+_")

EDAM_FORMATS = {
    "format_3613": "ENCODE narrow peak format",
    "format_3614": "ENCODE broad peak format",
    "format_3004": "bigBed",
    "format_3006": "bigWig",
    "format_3003": "BED",
    "format_3583": "bedgraph",
    "format_3005": "WIG",
    "format_3016": "VCF",
    "format_2306": "GTF",
    "format_2572": "BAM",
}

# Landmark cell types (CL, descendants of CL:0000003 native cell) and how many of their
# descendants (nearest first) to keep. The lymphocyte lineage is kept whole.
CL_LANDMARKS = {
    "CL:0000542": ("lymphocyte", None),
    "CL:0000988": ("hematopoietic cell", 80),
    "CL:0000540": ("neuron", 60),
    "CL:0000066": ("epithelial cell", 60),
    "CL:0000057": ("fibroblast", 30),
    "CL:0000034": ("stem cell", 40),
    "CL:0000187": ("muscle cell", 40),
    "CL:0000115": ("endothelial cell", 30),
    "CL:0000125": ("glial cell", 20),
    "CL:0000182": ("hepatocyte", 10),
    "CL:0000312": ("keratinocyte", 10),
}

UBERON_LANDMARKS = {
    "UBERON:0000955": ("brain", 150),
    "UBERON:0002037": ("cerebellum", 40),
    "UBERON:0002240": ("spinal cord", 20),
    "UBERON:0000948": ("heart", 40),
    "UBERON:0000947": ("aorta", 10),
    "UBERON:0002107": ("liver", 30),
    "UBERON:0002048": ("lung", 40),
    "UBERON:0002113": ("kidney", 40),
    "UBERON:0000178": ("blood", 10),
    "UBERON:0002371": ("bone marrow", 10),
    "UBERON:0002106": ("spleen", 20),
    "UBERON:0000029": ("lymph node", 20),
    "UBERON:0002370": ("thymus", 15),
    "UBERON:0002097": ("skin of body", 30),
    "UBERON:0000160": ("intestine", 40),
    "UBERON:0001155": ("colon", 20),
    "UBERON:0000945": ("stomach", 30),
    "UBERON:0001043": ("esophagus", 15),
    "UBERON:0001264": ("pancreas", 30),
    "UBERON:0000310": ("breast", 15),
    "UBERON:0002046": ("thyroid gland", 14),
    "UBERON:0002369": ("adrenal gland", 15),
    "UBERON:0000992": ("ovary", 20),
    "UBERON:0000473": ("testis", 19),
    "UBERON:0002367": ("prostate gland", 20),
    "UBERON:0001255": ("urinary bladder", 15),
    "UBERON:0000995": ("uterus", 20),
    "UBERON:0001987": ("placenta", 10),
    "UBERON:0001013": ("adipose tissue", 10),
    "UBERON:0001134": ("skeletal muscle tissue", 10),
    "UBERON:0000970": ("eye", 30),
    "UBERON:0000922": ("embryo", 20),
    "UBERON:0000926": ("mesoderm", 10),
}
# Ancestors whose pooled descendants are listed in the table, for ancestor-aware query tests.
QUERY_LANDMARKS = {
    "CL": ["CL:0000542", "CL:0000084", "CL:0000236"],
    "UBERON": ["UBERON:0000955", "UBERON:0002037"],
}
LYMPHOID_TISSUES = ["UBERON:0000178", "UBERON:0002106", "UBERON:0000029", "UBERON:0002371",
                    "UBERON:0002370"]
MATERIAL = "UBERON:0000465"
# Keep tissues and cells plausible for human/mouse tracks: drop terms whose label or definition
# is about other taxa, and UBERON grouping classes nobody annotates samples with.
NON_MAMMALIAN = re.compile(
    r"insect|arthropod|drosophila|cephalopod|teleost|fish|amphibia|xenopus|avian|bird|chick|"
    r"reptil|lamprey|nematod|invertebrate|protostom|sensu|tunicate|crustacea|annelid|"
    r"cerebelli|granular eminence|eminentia granularis|vestibulolateralis|GP94",
    re.IGNORECASE,
)
GROUPING = re.compile(r"regional part|aggregate|gross anatomical|superficial feature|et al\.")
IMMATERIAL = "UBERON:0000466"

EFO_HUMAN_CELL_LINE = "EFO:0002888"
EFO_MOUSE_CELL_LINE = "EFO:0002887"
EFO_ENCODE_CELL_LINE = "EFO:0002926"
EFO_CANCER_CELL_LINE = "EFO:0001639"
# Every generated sample has phenotype NCIT "Normal" (the only phenotype known offline), so cell
# lines are restricted to non-cancer ones: not under EFO "cancer cell line" and nothing in label,
# description or synonyms pointing at a tumour (heuristic; EFO does not classify all of them).
CANCER = re.compile(
    r"cancer|carcinoma|tumou?r|leuka?emi|lymphoma|blastoma|sarcoma|melanoma|myeloma|malignan|"
    r"neoplas|glioma|metasta|mesothelioma|teratoma|seminoma|transformed",
    re.IGNORECASE,
)

# Human genes used as ChIP-seq targets (gene_id). HGNC ID and symbol pairs copied from the MII
# FHIR ValueSet mii-vs-mtb-panel-ofa-plus 2026.0.1 (HGNC-coded Oncomine Focus Assay Plus panel).
GENES = [
    (13723, "CTCF"), (3373, "EP300"), (3467, "ESR1"), (3527, "EZH2"), (5021, "FOXA1"),
    (4171, "GATA2"), (4172, "GATA3"), (1001, "BCL6"), (3113, "E2F1"), (3446, "ERG"),
    (3495, "ETV6"), (3318, "ELF3"), (3819, "FOXO1"), (4317, "GLI1"), (4910, "HIF1A"),
    (11621, "HNF1A"), (6119, "IRF4"), (6348, "KLF4"), (6349, "KLF5"), (6913, "MAX"),
    (3498, "MECOM"), (7105, "MITF"), (7545, "MYB"), (7553, "MYC"), (7559, "MYCN"),
    (7611, "MYOD1"), (7782, "NFE2L2"), (8619, "PAX5"), (9236, "PPARG"), (9346, "PRDM1"),
    (9864, "RARA"), (9955, "RELA"), (10471, "RUNX1"), (11195, "SOX2"), (11204, "SOX9"),
    (11362, "STAT1"), (11364, "STAT3"), (11367, "STAT5B"), (11368, "STAT6"), (11535, "TAF1"),
    (11602, "TBX3"), (11641, "TCF7L2"), (11752, "TFE3"), (11753, "TFEB"), (11998, "TP53"),
    (15979, "TP63"), (12796, "WT1"), (16262, "YAP1"), (644, "AR"), (3490, "ETV1"),
    (3493, "ETV4"), (3494, "ETV5"), (4319, "GLI3"), (6995, "MEF2B"), (14214, "CIC"),
    (11111, "SMC1A"), (11355, "STAG2"), (10887, "SIX1"), (10888, "SIX2"), (6768, "SMAD2"),
    (6770, "SMAD4"), (777, "ZFHX3"),
]

# NCIT terms the schemas name in conditional rules without giving a label. Their labels are taken
# from the project's NCIT subset (fairtracks_ld.ontology.ncit.LABELS_FROM_NCIT: NCIt preferred
# names, not verifiable offline) so generated documents agree with the bundled NCIT module; a code
# missing there (C13402) stays unlabelled (null) and the generator then omits term_label.
NCIT_RULE_TERMS = ["C813", "C25966", "C17207", "C13402"]


def mammalian(label: str, definition: str | None) -> bool:
    """Heuristic: neither label nor definition mentions a non-mammalian taxon."""
    return not NON_MAMMALIAN.search(f"{label} {definition or ''}")


def obo_iri(curie: str) -> str:
    """OBO PURL for a CURIE such as `OBI:0000070`."""
    return OBO + curie.replace(":", "_")


def efo_iri(curie: str) -> str:
    """EFO IRI in the form FAIRtracks documents use (`http://www.ebi.ac.uk/efo/EFO_...`)."""
    return EFO_IRI + curie.replace(":", "_")


class Obo:
    """Minimal OBO reader: names, obsolete flags and the is_a graph (enough for descendants)."""

    def __init__(self, path: Path) -> None:
        self.names: dict[str, str] = {}
        self.defs: dict[str, str] = {}
        self.obsolete: set[str] = set()
        self.children: dict[str, set[str]] = defaultdict(set)
        self.version = ""
        self._read(path)

    def _read(self, path: Path) -> None:
        current: str | None = None
        in_term = False
        for raw in path.open(encoding="utf-8"):
            line = raw.rstrip("\n")
            if line.startswith("data-version: ") and not self.version:
                self.version = line.split(": ", 1)[1]
            if line.startswith("["):
                in_term, current = line == "[Term]", None
                continue
            if not in_term or ": " not in line:
                continue
            key, value = line.split(": ", 1)
            if key == "id":
                current = value
            elif current and key == "name":
                self.names[current] = value
            elif current and key == "def":
                self.defs[current] = value
            elif current and key == "is_a":
                self.children[value.split(" ")[0]].add(current)
            elif current and key == "is_obsolete" and value.strip() == "true":
                self.obsolete.add(current)

    def descendants(self, root: str) -> set[str]:
        """Transitive is_a descendants of `root` (excluding root)."""
        seen: set[str] = set()
        stack = [root]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def live(self, curie: str) -> bool:
        return curie in self.names and curie not in self.obsolete

    def check(self, curie: str, label: str, ancestor: str | None = None) -> None:
        """Fail unless `curie` is live, labelled `label` and (optionally) below `ancestor`."""
        if not self.live(curie):
            raise SystemExit(f"{curie} missing or obsolete")
        if self.names[curie] != label:
            raise SystemExit(f"{curie}: label {self.names[curie]!r}, expected {label!r}")
        if ancestor and curie not in self.descendants(ancestor):
            raise SystemExit(f"{curie} does not descend from {ancestor}")


def read_closure(path: Path) -> dict[str, dict]:
    """Read a cellxgene zstd closure file."""
    with path.open("rb") as handle:
        return json.loads(zstandard.ZstdDecompressor().stream_reader(handle).read())


def nearest_descendants(closure: dict[str, dict], root: str, keep: Iterable[str],
                        limit: int | None) -> list[str]:
    """Descendants of `root` among `keep`, nearest first (ties by CURIE), at most `limit`."""
    found = [(terms["ancestors"][root], curie) for curie, terms in closure.items()
             if curie in keep and root in terms["ancestors"]]
    ranked = [curie for _, curie in sorted(found)]
    return ranked if limit is None else ranked[:limit]


def edam_labels(path: Path) -> dict[str, tuple[str, bool]]:
    """EDAM class IRI -> (label, deprecated)."""
    ns = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
          "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
          "owl": "http://www.w3.org/2002/07/owl#"}
    out = {}
    for cls in etree.parse(str(path)).getroot().iterfind("owl:Class", ns):
        iri = cls.get(f"{{{ns['rdf']}}}about")
        deprecated = cls.findtext("owl:deprecated", namespaces=ns)
        out[iri] = (cls.findtext("rdfs:label", namespaces=ns), deprecated == "true")
    return out


def ncit_from_schemas() -> dict[str, str]:
    """NCIT IRI -> label, exactly as the vendored schemas give them."""
    sample = json.loads((SCHEMA_DIR / "fairtracks_sample.schema.json").read_text())
    klass = sample["properties"]["biospecimen_class"]["properties"]
    labels = dict(zip(klass["term_id"]["enum"], klass["term_label"]["enum"], strict=True))
    pheno = json.loads((SCHEMA_DIR / "fairtracks_phenotype.schema.json").read_text())
    labels[pheno["properties"]["term_id"]["default"]] = pheno["properties"]["term_label"]["default"]
    return labels


class Table:
    """Accumulates labels and pools for the JSON output."""

    def __init__(self) -> None:
        self.labels: dict[str, str | None] = {}
        self.pools: dict[str, list] = {}
        self.notes: dict[str, str] = {}
        self.descendants: dict[str, list[str]] = {}

    def add(self, iri: str, label: str | None) -> str:
        previous = self.labels.setdefault(iri, label)
        if previous != label:
            raise SystemExit(f"conflicting labels for {iri}: {previous!r} / {label!r}")
        return iri


def add_obi(table: Table, obi: Obo) -> None:
    assays = obi.descendants("OBI:0000070")
    entries = []
    for curie, label, family, short in TECHNIQUES:
        obi.check(curie, label)
        if curie not in assays:
            raise SystemExit(f"{curie} is not an assay")
        entries.append({"id": table.add(obo_iri(curie), label), "family": family,
                        "short": short})
    table.pools["technique"] = entries


def add_so(table: Table, so: Obo) -> None:
    features = so.descendants("SO:0000110")
    for curie, label in SO_FIXED.items():
        so.check(curie, label)
        if curie not in features:
            raise SystemExit(f"{curie} is not a sequence_feature")
        table.add(obo_iri(curie), label)
    marks = sorted(c for c in so.descendants("SO:0001700")
                   if so.live(c) and SPECIFIC_HISTONE_MARK.match(so.names[c]))
    table.pools["histone_modification"] = [table.add(obo_iri(c), so.names[c]) for c in marks]


def add_cl(table: Table, cl: Obo, cl_2026: dict[str, dict]) -> None:
    stable = {c for c, t in cl_2026.items()
              if not t["deprecated"] and cl.names.get(c) == t["label"]}
    native = {c for c in cl.descendants("CL:0000003")
              if cl.live(c) and c in stable and mammalian(cl.names[c], cl.defs.get(c))}
    lymphoid: list[str] = []
    other: list[str] = []
    for landmark, (label, limit) in CL_LANDMARKS.items():
        cl.check(landmark, label, "CL:0000003")
        below = sorted(native & cl.descendants(landmark))
        picked = [landmark, *(below if limit is None else _bfs_order(cl, landmark, below, limit))]
        target = lymphoid if landmark == "CL:0000542" else other
        target.extend(c for c in picked if c not in lymphoid and c not in other)
    for key, curies in (("cell_type_lymphocyte", lymphoid), ("cell_type_other", other)):
        table.pools[key] = [table.add(obo_iri(c), cl.names[c]) for c in curies]
    pooled = set(lymphoid) | set(other)
    for landmark in QUERY_LANDMARKS["CL"]:
        table.descendants[obo_iri(landmark)] = [
            obo_iri(c) for c in sorted(cl.descendants(landmark) & pooled)]


def _bfs_order(cl: Obo, root: str, allowed: list[str], limit: int) -> list[str]:
    """The first `limit` allowed descendants of `root` in breadth-first (nearest) order."""
    allowed_set, order, frontier, seen = set(allowed), [], [root], {root}
    while frontier and len(order) < limit:
        nxt = []
        for node in frontier:
            for child in sorted(cl.children.get(node, ())):
                if child not in seen:
                    seen.add(child)
                    nxt.append(child)
                    if child in allowed_set:
                        order.append(child)
        frontier = nxt
    return order[:limit]


def add_uberon(table: Table, uberon: dict[str, dict]) -> None:
    material = {c for c, t in uberon.items()
                if not t["deprecated"] and MATERIAL in t["ancestors"]
                and IMMATERIAL not in t["ancestors"]}
    plausible = {c for c in material
                 if mammalian(uberon[c]["label"], uberon[c].get("description"))
                 and not GROUPING.search(uberon[c]["label"])}
    parts: list[str] = []
    for landmark, (label, limit) in UBERON_LANDMARKS.items():
        if uberon[landmark]["label"] != label or landmark not in material:
            raise SystemExit(f"{landmark} is not the material entity {label!r}")
        for curie in [landmark, *nearest_descendants(uberon, landmark, plausible, limit)]:
            if curie not in parts:
                parts.append(curie)
    table.pools["organism_part"] = [table.add(obo_iri(c), uberon[c]["label"]) for c in parts]
    for landmark in QUERY_LANDMARKS["UBERON"]:
        table.descendants[obo_iri(landmark)] = [
            obo_iri(c) for c in sorted(parts) if landmark in uberon[c]["ancestors"]]
    table.pools["organism_part_lymphoid"] = [obo_iri(c) for c in LYMPHOID_TISSUES]


def add_efo(table: Table, efo: dict[str, dict]) -> None:
    live = {c for c, t in efo.items()
            if not t["deprecated"] and not t["label"].startswith("obsolete")
            and EFO_CANCER_CELL_LINE not in t["ancestors"] and not CANCER.search(
                " ".join([t["label"], t.get("description", ""), *t.get("synonyms", [])]))}
    grouping = {a for t in efo.values() for a in t["ancestors"]}

    def lines(root: str) -> list[str]:
        return sorted(c for c, t in efo.items()
                      if c in live and c not in grouping and root in t["ancestors"])

    human, mouse = lines(EFO_HUMAN_CELL_LINE), lines(EFO_MOUSE_CELL_LINE)
    # "ENCODE cell line" also holds modENCODE fly lines: keep the human ones only.
    encode = [c for c in lines(EFO_ENCODE_CELL_LINE) if c in set(human)]
    for key, curies in (("cell_line_human", human), ("cell_line_mouse", mouse),
                        ("cell_line_human_encode", encode)):
        table.pools[key] = [table.add(efo_iri(c), efo[c]["label"]) for c in curies]


def add_edam(table: Table, edam: dict[str, tuple[str, bool]]) -> None:
    for local, label in EDAM_FORMATS.items():
        found, deprecated = edam[EDAM + local]
        if found != label or deprecated:
            raise SystemExit(f"EDAM {local}: {found!r} deprecated={deprecated}")
        table.add(EDAM + local, label)


def add_ncit(table: Table) -> None:
    for iri, label in ncit_from_schemas().items():
        table.add(iri, label)
    for code in NCIT_RULE_TERMS:
        known = LABELS_FROM_NCIT.get(code)
        iri = table.add(obo_iri(f"NCIT:{code}"), known[0] if known else None)
        table.notes[iri] = known[1] if known else "no label known offline"


def build(source: Path) -> dict:
    """Assemble the whole table from the releases under `source`."""
    table = Table()
    obi, so, cl = (Obo(source / SOURCES[k]["file"]) for k in ("OBI", "SO", "CL"))
    for name, obo in (("OBI", obi), ("SO", so), ("CL", cl)):
        if SOURCES[name]["version"] not in obo.version:
            raise SystemExit(f"{name}: data-version {obo.version!r}")
    add_obi(table, obi)
    add_so(table, so)
    add_cl(table, cl, read_closure(source / "cellxgene/CL-ontology-v2026-03-26.json.zst"))
    add_uberon(table, read_closure(source / SOURCES["UBERON"]["file"]))
    add_efo(table, read_closure(source / SOURCES["EFO"]["file"]))
    add_edam(table, edam_labels(source / SOURCES["EDAM"]["file"]))
    add_ncit(table)
    genes = [{"id": f"hgnc:{num}", "symbol": sym} for num, sym in GENES]
    return {
        "about": "Real ontology terms and exact labels used by fairtracks_ld.generate. "
        "Generated by scripts/extract_generator_terms.py; do not edit by hand.",
        "sources": SOURCES,
        "ontology_versions": ONTOLOGY_VERSIONS,
        "version_caveats": VERSION_CAVEATS,
        "counts": {key: len(pool) for key, pool in table.pools.items()},
        "pools": table.pools,
        "genes": genes,
        "label_notes": table.notes,
        "pool_descendants": {
            "about": "For ancestor-aware query tests: pooled terms below each landmark (CL: is_a; "
            "UBERON: the closure's is_a + part_of).",
            **table.descendants,
        },
        "labels": dict(sorted(table.labels.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    data = build(args.source)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(data['labels'])} labelled terms, counts {data['counts']}")


if __name__ == "__main__":
    main()
