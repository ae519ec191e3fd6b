"""Deterministic, schema-valid FAIRtracks corpora of any size, for tests and benchmarks.

Documents are built one at a time (one collection each), so memory stays flat however many tracks
are asked for. All ontology terms are real and carry their exact labels; they come from the
committed term table `generator_terms.json` (built by `scripts/extract_generator_terms.py`), so
nothing outside the package is read at run time. The same arguments always give byte-identical
output: every random choice comes from a `random.Random` seeded from the arguments.
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from itertools import accumulate
from pathlib import Path

from fairtracks_ld.standard import VARIANTS

__all__ = ["VARIANTS", "TermTable", "generate_documents", "load_terms", "write_corpus"]

SCHEMA_BASE = (
    "https://raw.githubusercontent.com/fairtracks/fairtracks_standard/v1/current/json/schema/"
)
BASE_URL = "https://data.example.org/fairtracks-gen"
OBO = "http://purl.obolibrary.org/obo/"
EDAM = "http://edamontology.org/"

# Terms the schemas' conditional rules name, and other fixed targets.
OBI_POLYA_RNA_SEQ = OBO + "OBI_0002571"
SO_DHS = OBO + "SO_0000685"
SO_OPEN_CHROMATIN = OBO + "SO_0001747"
SO_METHYLATED_C = OBO + "SO_0000114"
SO_MRNA = OBO + "SO_0000234"
SO_MIRNA = OBO + "SO_0000276"
SO_TRANSCRIPT = OBO + "SO_0000673"
SO_ALTERATION = OBO + "SO_0001059"
NCIT_MRNA = OBO + "NCIT_C813"
NCIT_MICRORNA = OBO + "NCIT_C25966"
NCIT_TF = OBO + "NCIT_C17207"
NCIT_CHROMATIN = OBO + "NCIT_C13402"
NCIT_NORMAL = OBO + "NCIT_C14165"
NCIT_CELL = OBO + "NCIT_C12508"
NCIT_CELL_LINE = OBO + "NCIT_C16403"
NCIT_ORGANISM_PART = OBO + "NCIT_C103199"

SPECIES = {
    "human": ("taxonomy:9606", "Homo sapiens"),
    "mouse": ("taxonomy:10090", "Mus musculus"),
}
# (assembly_id, assembly_name, weight) per species; GCF (RefSeq) ids, as the schema prefers.
ASSEMBLIES = {
    "human": (("insdc.gca:GCF_000001405.26", "hg38", 7), ("insdc.gca:GCF_000001405.13", "hg19", 3)),
    "mouse": (("insdc.gca:GCF_000001635.20", "mm10", 1),),
}


@dataclass(frozen=True)
class Output:
    """One kind of track file an assay produces."""

    format_id: str
    extension: str
    condensed: str
    geometry: str
    abbrev: str
    description: str


OUTPUTS = {
    "narrowpeak": Output(EDAM + "format_3613", "bed.gz", "Narrow peaks", "Segments", "pk",
                         "peaks"),
    "narrowpeak_bb": Output(EDAM + "format_3004", "bigBed", "Narrow peaks", "Segments", "pk",
                            "peaks"),
    "broadpeak": Output(EDAM + "format_3614", "bed.gz", "Broad peaks", "Segments", "bpk",
                        "broad peaks"),
    "fold_change": Output(EDAM + "format_3006", "bigWig", "Signal values (fold change)",
                          "Step function", "FC", "fold change over control"),
    "pvalue": Output(EDAM + "format_3006", "bigWig", "Signal values (p-value)", "Step function",
                     "pval", "signal p-value"),
    "signal": Output(EDAM + "format_3006", "bigWig", "Signal values (other)", "Step function",
                     "sig", "signal"),
    "coverage": Output(EDAM + "format_3006", "bigWig", "Read coverage", "Step function", "cov",
                       "read coverage"),
    "bedgraph": Output(EDAM + "format_3583", "bedGraph.gz", "Signal values (other)",
                       "Step function", "bg", "signal"),
    "wig": Output(EDAM + "format_3005", "wig.gz", "Read coverage", "Step function", "wig",
                  "raw coverage"),
    "hotspots": Output(EDAM + "format_3003", "bed.gz", "Peaks", "Segments", "hs", "hotspots"),
    "methylation": Output(EDAM + "format_3003", "bed.gz", "Signal values (other)",
                          "Valued points", "meth", "methylation state at CpG"),
    "variants": Output(EDAM + "format_3016", "vcf.gz", "Individual variants", "Points", "var",
                       "variant calls"),
    "domains": Output(EDAM + "format_3004", "bigBed", "Experimentally-derived regions",
                      "Segments", "TAD", "contact domains"),
    "loops": Output(EDAM + "format_3003", "bed.gz", "Other", "Linked segments", "loop",
                    "chromatin loops"),
    "transcripts": Output(EDAM + "format_2306", "gtf.gz", "Predicted regions", "Segments", "tx",
                          "transcript models"),
    "alignments": Output(EDAM + "format_2572", "bam", "Mapped paired-end reads",
                         "Linked segments", "aln", "alignments"),
}


@dataclass(frozen=True)
class Family:
    """How experiments of one assay family look: outputs, weight, and constraints."""

    outputs: tuple[str, ...]
    weight: int
    human_only: bool = False
    ncit: tuple[str, ...] = ()  # NCIT terms the target needs (master needs their labels)


FAMILIES = {
    "histone": Family(("narrowpeak", "narrowpeak_bb", "broadpeak", "fold_change", "pvalue"), 25),
    "chip": Family(("narrowpeak", "narrowpeak_bb", "fold_change", "pvalue", "alignments"), 5),
    "tf": Family(("narrowpeak", "narrowpeak_bb", "fold_change", "pvalue", "alignments"), 15,
                 human_only=True, ncit=(NCIT_TF,)),
    "dnase": Family(("narrowpeak", "hotspots", "signal", "wig"), 8),
    "atac": Family(("narrowpeak", "fold_change", "pvalue", "bedgraph"), 8),
    "bisulfite": Family(("methylation", "signal", "coverage"), 3),
    "methylation": Family(("methylation", "signal", "coverage"), 6),
    "rna": Family(("signal", "coverage", "transcripts", "alignments"), 12, ncit=(NCIT_MRNA,)),
    "rna_other": Family(("signal", "coverage", "transcripts", "alignments"), 6),
    "mirna": Family(("signal", "coverage", "transcripts"), 3, ncit=(NCIT_MICRORNA,)),
    "hic": Family(("domains", "loops"), 3, ncit=(NCIT_CHROMATIN,)),
    "chiapet": Family(("loops", "signal"), 2, human_only=True),
    "variants": Family(("variants", "coverage"), 4),
}

FIRST_NAMES = ("Ada", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gustav", "Hana", "Ivan", "Jun",
               "Kari", "Luis", "Mina", "Noor", "Olav", "Priya", "Quinn", "Rosa", "Sven", "Tara")
LAST_NAMES = ("Berg", "Costa", "Dahl", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
              "Kim", "Larsen", "Moreau", "Nguyen", "Olsen", "Patel", "Rossi", "Silva", "Tanaka",
              "Umar", "Vogel")
STUDY_THEMES = ("regulatory genomics", "reference epigenome", "functional genomics",
                "cell atlas", "tissue atlas", "population epigenomics")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Technique:
    """An assay term and the family that shapes its experiments."""

    iri: str
    family: str
    short: str


@dataclass(frozen=True)
class TermTable:
    """The committed term table, loaded once: labels plus the pools the generator draws from."""

    labels: dict[str, str | None]
    pools: dict[str, tuple[str, ...]]
    techniques: tuple[Technique, ...]
    genes: tuple[tuple[str, str], ...]
    ontology_versions: dict[str, dict[str, str]]
    descendants: dict[str, tuple[str, ...]]  # landmark IRI -> pooled terms below it

    def term(self, iri: str) -> dict[str, str]:
        """An ontology term object; `term_label` only when the label is known."""
        label = self.labels[iri]
        return {"term_id": iri} if label is None else {"term_id": iri, "term_label": label}

    def label(self, iri: str) -> str:
        """The label of a term that must have one."""
        label = self.labels[iri]
        if label is None:
            raise KeyError(f"no label known for {iri}")
        return label


@cache
def load_terms() -> TermTable:
    """Read `generator_terms.json` from the package (cached: pools are built once)."""
    raw = json.loads(
        resources.files("fairtracks_ld").joinpath("generator_terms.json").read_text("utf-8")
    )
    pools = raw["pools"]
    return TermTable(
        labels=raw["labels"],
        pools={key: tuple(value) for key, value in pools.items() if key != "technique"},
        techniques=tuple(Technique(t["id"], t["family"], t["short"]) for t in pools["technique"]),
        genes=tuple((g["id"], g["symbol"]) for g in raw["genes"]),
        ontology_versions=raw["ontology_versions"],
        descendants={iri: tuple(below) for iri, below in raw["pool_descendants"].items()
                     if iri != "about"},
    )


def histone_abbrev(label: str) -> str:
    """`H3K4_trimethylation` -> `H3K4me3`, `H3K27_acetylation_site` -> `H3K27ac` (ENCODE style)."""
    mark, _, rest = label.partition("_")
    suffix = {"monomethylation": "me1", "dimethylation": "me2", "trimethylation": "me3",
              "methylation": "me", "acetylation": "ac"}.get(rest.removesuffix("_site"), "")
    return mark + suffix


def orcid(rng: random.Random) -> str:
    """A well-formed ORCID in the never-issued 0000-0000 block, with a valid check digit."""
    digits = "00000000" + "".join(str(rng.randrange(10)) for _ in range(7))
    total = 0
    for digit in digits:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    full = digits + ("X" if check == 10 else str(check))
    return "orcid:" + "-".join(full[i:i + 4] for i in range(0, 16, 4))


def encode_file_id(rng: random.Random) -> str:
    """An ENCODE-shaped file accession (`encode:ENCFF123ABC`), from a single draw."""
    value = rng.randrange(1000 * 26**3)
    value, c = divmod(value, 26)
    value, b = divmod(value, 26)
    digits, a = divmod(value, 26)
    return f"encode:ENCFF{digits:03d}{LETTERS[a]}{LETTERS[b]}{LETTERS[c]}"


def fit(text: str, width: int) -> str:
    """Shorten `text` to `width` characters, marking the cut."""
    return text if len(text) <= width else text[: max(width - 3, 0)].rstrip() + "..."


@dataclass
class Target:
    """An experiment target plus the short name used in track labels."""

    value: dict
    short: str


@dataclass
class _Study:
    record: dict
    species: str
    assembly: tuple[str, str]
    quota: int
    samples: list[dict] = field(default_factory=list)


class _DocumentBuilder:
    """Builds one FAIRtracks document (one collection) with exactly `n_tracks` tracks."""

    def __init__(self, terms: TermTable, seed: int, variant: str, index: int,
                 n_tracks: int) -> None:
        self.terms = terms
        self.seed = seed
        self.variant = variant
        self.cid = f"gen-{seed}-{index}"
        self.index = index
        self.n_tracks = n_tracks
        self.rng = random.Random(f"fairtracks-gen/{seed}/{variant}/{index}")
        self.studies: list[dict] = []
        self.samples: list[dict] = []
        self.experiments: list[dict] = []
        self.tracks: list[dict] = []
        self.families = self._eligible_families()
        self.family_choice = {species: self._family_weights(species) for species in SPECIES}
        self.targets: dict[str, Callable[[Technique, str], Target]] = {
            "histone": self._target_histone, "chip": self._target_chip,
            "tf": self._target_tf, "dnase": self._fixed(SO_DHS),
            "atac": self._fixed(SO_OPEN_CHROMATIN), "bisulfite": self._fixed(SO_OPEN_CHROMATIN),
            "methylation": self._fixed(SO_METHYLATED_C), "rna": self._target_rna,
            "rna_other": self._target_rna_other, "mirna": self._target_mirna,
            "hic": self._target_hic, "chiapet": self._target_chiapet,
            "variants": self._fixed(SO_ALTERATION),
        }

    # -- document ---------------------------------------------------------------------------

    def build(self) -> dict:
        """Assemble the whole document."""
        study: _Study | None = None
        while len(self.tracks) < self.n_tracks:
            if study is None or study.quota == 0:
                study = self._new_study()
            study.quota -= 1
            self._experiment(study)
        return {
            "@schema": SCHEMA_BASE + "fairtracks.schema.json",
            "doc_info": self._doc_info(),
            "collection_info": self._collection_info(),
            "studies": self.studies,
            "experiments": self.experiments,
            "samples": self.samples,
            "tracks": self.tracks,
        }

    def _doc_info(self) -> dict:
        created = _corpus_date(self.seed) + timedelta(minutes=self.index)
        digest = hashlib.sha256(f"{self.cid}/{self.variant}/{self.n_tracks}".encode())
        info = {
            "local_id": f"{self.cid}-doc",
            "doc_url": f"{BASE_URL}/{self.cid}.json",
            "doc_ontology_versions": dict(self.terms.ontology_versions[self.variant]),
        }
        if self.variant == "master":
            info["has_augmented_metadata"] = True
        info["doc_version"] = digest.hexdigest()
        info["doc_date"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        return info

    def _collection_info(self) -> dict:
        return {
            "source_repo_url": f"{BASE_URL}/",
            "local_id": self.cid,
            "doc_ref": f"{self.cid}-doc",
            "short_name": f"Gen {self.seed}-{self.index}",
            "long_name": f"Synthetic FAIRtracks collection {self.index} (seed {self.seed})",
            "description_url": f"{BASE_URL}/about",
            "orig_metadata_url": f"{BASE_URL}/{self.cid}/metadata.json",
            "contact": {"name": "fairtracks-ld generator", "e-mail": "fairtracks-gen@example.org"},
        }

    # -- studies and samples ----------------------------------------------------------------

    def _new_study(self) -> _Study:
        rng = self.rng
        number = len(self.studies) + 1
        species = "human" if rng.random() < 0.8 else "mouse"
        options = ASSEMBLIES[species]
        assembly_id, assembly_name, _ = rng.choices(options, [o[2] for o in options])[0]
        record: dict = {}
        if rng.random() < 0.85:
            record["global_id"] = f"geo:GSE{rng.randrange(10_000, 300_000)}"
        record["local_id"] = f"{self.cid}-study-{number:04d}"
        record["collection_ref"] = self.cid
        theme = rng.choice(STUDY_THEMES)
        record["study_name"] = f"{SPECIES[species][1]} {theme} study {number} ({self.cid})"
        if rng.random() < 0.7:
            record["publication"] = f"pubmed:{rng.randrange(20_000_000, 40_000_000)}"
        record["contact"] = self._contact()
        self.studies.append(record)
        quota = rng.randint(5, 150)
        return _Study(record, species, (assembly_id, assembly_name), quota)

    def _contact(self) -> dict:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        contact = {"name": f"{first} {last}"}
        kind = rng.random()
        if kind < 0.85:
            contact["e-mail"] = f"{first}.{last}@example.org".lower()
        if kind >= 0.25:
            contact["orcid"] = orcid(rng)
        return contact

    def _sample_for(self, study: _Study) -> dict:
        """Reuse one of the study's samples now and then, as real collections do."""
        if study.samples and self.rng.random() < 0.4:
            return self.rng.choice(study.samples)
        sample = self._new_sample(study.species)
        study.samples.append(sample)
        self.samples.append(sample)
        return sample

    def _new_sample(self, species: str) -> dict:
        rng = self.rng
        species_id, species_name = SPECIES[species]
        klass = rng.choices((NCIT_CELL, NCIT_CELL_LINE, NCIT_ORGANISM_PART), (35, 40, 25))[0]
        sample_type = self._sample_type(klass, species)
        record: dict = {}
        if rng.random() < 0.9:
            record["global_id"] = f"biosample:SAMN{rng.randrange(10_000_000, 100_000_000)}"
        record["local_id"] = f"gen:{self.cid}-BS{len(self.samples) + 1:06d}"
        record["species_id"] = species_id
        record["species_name"] = species_name
        record["biospecimen_class"] = self.terms.term(klass)
        record["sample_type"] = sample_type
        record["phenotype"] = self.terms.term(NCIT_NORMAL)
        return record

    def _sample_type(self, klass: str, species: str) -> dict:
        rng, pools, terms = self.rng, self.terms.pools, self.terms
        if klass == NCIT_CELL:
            lymphoid = rng.random() < 0.45
            cell = rng.choice(pools["cell_type_lymphocyte" if lymphoid else "cell_type_other"])
            value = {"cell_type": terms.term(cell)}
            summary = terms.label(cell)
            if lymphoid and rng.random() < 0.5:
                tissue = rng.choice(pools["organism_part_lymphoid"])
                value["organism_part"] = terms.term(tissue)
                summary = f"{summary} ({terms.label(tissue)})"
        elif klass == NCIT_CELL_LINE:
            if species == "mouse":
                pool = pools["cell_line_mouse"]
            else:
                encode = rng.random() < 0.5
                pool = pools["cell_line_human_encode" if encode else "cell_line_human"]
            line = rng.choice(pool)
            value, summary = {"cell_line": terms.term(line)}, terms.label(line)
        else:
            part = rng.choice(pools["organism_part"])
            value, summary = {"organism_part": terms.term(part)}, terms.label(part)
        value["summary"] = summary
        return value

    # -- experiments ------------------------------------------------------------------------

    def _eligible_families(self) -> dict[str, list[Technique]]:
        """Families usable in this variant: master needs labels for every target term."""
        by_family: dict[str, list[Technique]] = {}
        for technique in self.terms.techniques:
            family = FAMILIES[technique.family]
            if self.variant == "master" and any(
                self.terms.labels[iri] is None for iri in family.ncit
            ):
                continue
            by_family.setdefault(technique.family, []).append(technique)
        return by_family

    def _family_weights(self, species: str) -> tuple[list[str], list[int]]:
        """Eligible families for a species with cumulative weights (computed once)."""
        names = [name for name in self.families
                 if species == "human" or not FAMILIES[name].human_only]
        return names, list(accumulate(FAMILIES[name].weight for name in names))

    def _pick_technique(self, species: str) -> Technique:
        names, cumulative = self.family_choice[species]
        family = self.rng.choices(names, cum_weights=cumulative)[0]
        return self.rng.choice(self.families[family])

    def _experiment(self, study: _Study) -> None:
        rng = self.rng
        sample = self._sample_for(study)
        technique = self._pick_technique(study.species)
        target = self.targets[technique.family](technique, study.species)
        number = len(self.experiments) + 1
        record: dict = {}
        if rng.random() < 0.8:
            record["global_id"] = f"geo:GSM{rng.randrange(100_000, 8_000_000)}"
        record["local_id"] = f"gen:{self.cid}-SR{number:06d}"
        record["study_ref"] = study.record["local_id"]
        record["sample_ref"] = sample["local_id"]
        record["technique"] = self.terms.term(technique.iri)
        record["target"] = target.value
        if rng.random() < 0.5:
            record["lab_protocol_description"] = f"{BASE_URL}/protocols/{technique.family}.pdf"
        if rng.random() < 0.5:
            record["compute_protocol_description"] = (
                f"Standard {technique.short} processing pipeline, aligned to "
                f"{study.assembly[1]}"
            )
        self.experiments.append(record)
        self._tracks(record, number, technique, target, sample, study)

    def _fixed(self, iri: str) -> Callable[[Technique, str], Target]:
        """Target builder for assays whose target is one SO term (possibly schema-imposed)."""
        def build(technique: Technique, species: str) -> Target:
            return Target({"sequence_feature": self.terms.term(iri),
                           "summary": self.terms.label(iri)}, technique.short)
        return build

    def _target_histone(self, technique: Technique, species: str) -> Target:
        mark = self.rng.choice(self.terms.pools["histone_modification"])
        label = self.terms.label(mark)
        return Target({"sequence_feature": self.terms.term(mark), "summary": label},
                      histone_abbrev(label))

    def _target_chip(self, technique: Technique, species: str) -> Target:
        if species == "human" and self.rng.random() < 0.5:
            gene_id, symbol = self.rng.choice(self.terms.genes)
            return Target({"gene_id": gene_id, "summary": symbol}, symbol)
        return self._target_histone(technique, species)

    def _target_tf(self, technique: Technique, species: str) -> Target:
        gene_id, symbol = self.rng.choice(self.terms.genes)
        value = {"gene_id": gene_id, "gene_product_type": self.terms.term(NCIT_TF),
                 "summary": symbol}
        return Target(value, symbol)

    def _target_rna(self, technique: Technique, species: str) -> Target:
        value = {"sequence_feature": self.terms.term(SO_MRNA),
                 "gene_product_type": self.terms.term(NCIT_MRNA),
                 "summary": self.terms.label(SO_MRNA)}
        return Target(value, technique.short)

    def _target_rna_other(self, technique: Technique, species: str) -> Target:
        feature = SO_MRNA if technique.iri == OBI_POLYA_RNA_SEQ else SO_TRANSCRIPT
        return self._fixed(feature)(technique, species)

    def _target_mirna(self, technique: Technique, species: str) -> Target:
        value = {"sequence_feature": self.terms.term(SO_MIRNA),
                 "gene_product_type": self.terms.term(NCIT_MICRORNA),
                 "summary": self.terms.label(SO_MIRNA)}
        return Target(value, technique.short)

    def _target_hic(self, technique: Technique, species: str) -> Target:
        value: dict = {"macromolecular_structure": self.terms.term(NCIT_CHROMATIN)}
        label = self.terms.labels[NCIT_CHROMATIN]
        if label is not None:
            value["summary"] = label
        return Target(value, technique.short)

    def _target_chiapet(self, technique: Technique, species: str) -> Target:
        gene_id, symbol = self.rng.choice(self.terms.genes)
        return Target({"gene_id": gene_id, "summary": symbol}, symbol)

    # -- tracks -----------------------------------------------------------------------------

    def _track_plan(self, family: str) -> list[tuple[str, int]]:
        """1-4 (output, replicate) pairs, never more than the tracks still owed."""
        rng = self.rng
        count = min(rng.randint(1, 4), self.n_tracks - len(self.tracks))
        outputs = FAMILIES[family].outputs
        replicates = rng.choice((1, 2))
        kinds = min(-(-count // replicates), len(outputs))
        replicates = -(-count // kinds)
        chosen = rng.sample(outputs, kinds)
        return [(chosen[i // replicates], i % replicates + 1) for i in range(count)]

    def _tracks(self, experiment: dict, number: int, technique: Technique, target: Target,
                sample: dict, study: _Study) -> None:
        rng = self.rng
        plan = self._track_plan(technique.family)
        raw_ids = {rep: [encode_file_id(rng) for _ in range(rng.randint(1, 2))]
                   for rep in sorted({rep for _, rep in plan})}
        with_raw = rng.random() < 0.85
        head = target.short if target.short == technique.short else (
            f"{target.short} {technique.short}")
        sample_summary = sample["sample_type"]["summary"]
        for output_name, rep in plan:
            output = OUTPUTS[output_name]
            track_no = len(self.tracks) + 1
            key = f"{self.cid}-FF{track_no:07d}"
            local_id = f"gen:{key}"
            file_name = f"{key}.{output.extension}"
            tail = f" {output.description} rep{rep} SR{number:06d} - FF{track_no:07d}"
            label_long = f"{head} of {fit(sample_summary, 80 - len(head) - 4 - len(tail))}{tail}"
            track: dict = {"global_id": f"fairtracks:{key}", "local_id": local_id,
                           "assembly_id": study.assembly[0], "assembly_name": study.assembly[1],
                           "experiment_ref": experiment["local_id"]}
            if with_raw:
                track["raw_file_ids"] = list(raw_ids[rep])
            track["file_url"] = f"{BASE_URL}/{self.cid}/files/{file_name}"
            track["file_name"] = file_name
            track["label_short"] = f"{target.short[:9]} {output.abbrev} r{rep}"
            track["label_long"] = fit(label_long, 80)
            track["file_format"] = self.terms.term(output.format_id)
            track["type_of_condensed_data"] = output.condensed
            track["geometric_track_type"] = output.geometry
            track["checksum"] = _checksum(rng, f"{self.seed}/{local_id}")
            self.tracks.append(track)


def _checksum(rng: random.Random, payload: str) -> dict[str, str]:
    """MD5 (mostly) or SHA-256 of a deterministic payload standing in for the file."""
    if rng.random() < 0.8:
        return {"cs_method": "MD5", "cs_hash": hashlib.md5(payload.encode()).hexdigest()}
    return {"cs_method": "SHA-256", "cs_hash": hashlib.sha256(payload.encode()).hexdigest()}


def _corpus_date(seed: int) -> datetime:
    """A creation date derived from the seed only (never from the clock)."""
    offset = random.Random(f"fairtracks-gen/date/{seed}").randrange(6 * 365 * 86_400)
    return datetime(2019, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)


def _check_args(tracks: int, variant: str, tracks_per_document: int) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    if tracks < 1:
        raise ValueError("tracks must be at least 1")
    if tracks_per_document < 1:
        raise ValueError("tracks_per_document must be at least 1")


def generate_documents(tracks: int, seed: int = 0, variant: str = "v1-current",
                       tracks_per_document: int = 20_000) -> Iterator[dict]:
    """Yield FAIRtracks documents, one collection each, holding exactly `tracks` tracks in total.

    Documents are produced lazily so a corpus of any size never sits in memory at once. Every
    document has `tracks_per_document` tracks except the last, which takes the remainder.
    Arguments are checked at call time, before the first document is asked for.
    """
    _check_args(tracks, variant, tracks_per_document)
    return _documents(load_terms(), tracks, seed, variant, tracks_per_document)


def _documents(terms: TermTable, tracks: int, seed: int, variant: str,
               tracks_per_document: int) -> Iterator[dict]:
    remaining, index = tracks, 0
    while remaining > 0:
        count = min(tracks_per_document, remaining)
        yield _DocumentBuilder(terms, seed, variant, index, count).build()
        remaining -= count
        index += 1


def write_corpus(out_dir: Path, tracks: int, seed: int = 0, variant: str = "v1-current",
                 tracks_per_document: int = 20_000, gzip: bool = False) -> list[Path]:
    """Write each generated document to `<out_dir>/<collection local_id>.json[.gz]`.

    Output is byte-identical for identical arguments (gzip headers carry no name or time).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for document in generate_documents(tracks, seed, variant, tracks_per_document):
        suffix = ".json.gz" if gzip else ".json"
        path = out_dir / f"{document['collection_info']['local_id']}{suffix}"
        data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if gzip:
            with path.open("wb") as raw, gzip_module.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
            ) as handle:
                handle.write(data)
        else:
            path.write_bytes(data)
        paths.append(path)
    return paths
