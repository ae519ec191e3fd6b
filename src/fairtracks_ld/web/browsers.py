"""Taking tracks into genome browsers: "Open in" links (UCSC Genome Browser, IGV-Web, Ensembl),
the igv.js configuration of a track page, and what each browser cannot show, said plainly.

Everything is built from a track's assembly, file URL and file format (the EDAM term, else the
file name's extension). The server never fetches a provider's file: the links hand the URL to the
browser, and the embedded igv.js view makes the reader's own browser load it. Files under
controlled access are never offered to a browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

EDAM = "http://edamontology.org/"


@dataclass(frozen=True)
class Format:
    """What the browsers need to know of a file format."""

    name: str
    ucsc: str | None  # the custom-track / hub `type`; None: UCSC cannot show it
    binary: bool  # binary indexed: a hub may hold it, a browser reads ranges of it
    igv: str | None  # igv.js / IGV-Web `format`
    ensembl: bool
    index: str | None = None  # the index's suffix, next to the file (BAM, CRAM, VCF.gz)


FORMATS = {f.name: f for f in (
    Format("bigWig", "bigWig", True, "bigwig", True),
    Format("bigBed", "bigBed", True, "bigbed", True),
    Format("BAM", "bam", True, "bam", True, ".bai"),
    Format("CRAM", "cram", True, "cram", True, ".crai"),
    Format("VCF.gz", "vcfTabix", True, "vcf", True, ".tbi"),
    Format("bigInteract", "bigInteract", True, None, False),
    Format("hic", "hic", True, "hic", False),
    Format("VCF", "vcf", False, "vcf", True),
    Format("BED", "bed", False, "bed", True),
    Format("narrowPeak", "narrowPeak", False, "narrowpeak", True),
    Format("broadPeak", "broadPeak", False, "broadpeak", True),
    Format("bedGraph", "bedGraph", False, "bedgraph", True),
    Format("WIG", "wig", False, "wig", True),
    Format("GTF", "gtf", False, "gtf", True),
    Format("GFF3", "gff3", False, "gff3", True),
)}
EDAM_FORMATS = {"format_3006": "bigWig", "format_3004": "bigBed", "format_2572": "BAM",
                "format_3462": "CRAM", "format_3016": "VCF", "format_3003": "BED",
                "format_3613": "narrowPeak", "format_3614": "broadPeak",
                "format_3612": "narrowPeak",
                "format_3583": "bedGraph", "format_3005": "WIG", "format_2306": "GTF",
                "format_1975": "GFF3", "format_2305": "GFF3"}
EDAM_LABELS = {"bigwig": "bigWig", "bigbed": "bigBed", "bam": "BAM", "cram": "CRAM", "vcf": "VCF",
               "bed": "BED", "encode narrow peak format": "narrowPeak",
               "encode broad peak format": "broadPeak", "encode peak format": "narrowPeak",
               "bedgraph": "bedGraph", "wig": "WIG", "gtf": "GTF", "gff3": "GFF3", "gff": "GFF3"}
EXTENSIONS = [(".bigwig", "bigWig"), (".bw", "bigWig"), (".bigbed", "bigBed"), (".bb", "bigBed"),
              (".bam", "BAM"), (".cram", "CRAM"), (".vcf.gz", "VCF.gz"), (".vcf.bgz", "VCF.gz"),
              (".vcf", "VCF"), (".inter.bb", "bigInteract"), (".hic", "hic"),
              (".narrowpeak", "narrowPeak"), (".broadpeak", "broadPeak"),
              (".bedgraph", "bedGraph"), (".wig", "WIG"), (".gtf", "GTF"), (".gff3", "GFF3"),
              (".gff", "GFF3"), (".bed", "BED")]

# Assemblies each browser hosts, by the names FAIRtracks documents use (UCSC names and GRC names).
UCSC_DB = {"hg38": "hg38", "grch38": "hg38", "hg19": "hg19", "grch37": "hg19", "mm39": "mm39",
           "grcm39": "mm39", "mm10": "mm10", "grcm38": "mm10", "mm9": "mm9", "rn6": "rn6",
           "rn7": "rn7", "dm6": "dm6", "ce11": "ce11", "danrer11": "danRer11", "saccer3": "sacCer3"}
IGV_GENOMES = {"hg38", "hg19", "mm39", "mm10", "mm9", "rn6", "rn7", "dm6", "ce11", "danRer11",
               "sacCer3"}
ENSEMBL = {"hg38": ("https://www.ensembl.org", "Homo_sapiens", "1:1000000-1100000"),
           "hg19": ("https://grch37.ensembl.org", "Homo_sapiens", "1:1000000-1100000"),
           "mm39": ("https://www.ensembl.org", "Mus_musculus", "1:3000000-3100000")}
CONTROLLED_HOSTS = ("ega-archive.org", "www.ebi.ac.uk/ega", "dbgap.ncbi.nlm.nih.gov",
                    "controlled-access")


def file_format(term: str | None, url: str | None, name: str | None = None,
                label: str | None = None) -> Format | None:
    """The format by the EDAM term (or its label), else by the file name's extension (gzip
    spelled out for VCF, ignored for text formats that browsers read gzipped)."""
    found = EDAM_FORMATS.get(term[len(EDAM):]) if term and term.startswith(EDAM) else None
    found = found or EDAM_LABELS.get((label or "").strip().lower())
    path = (name or urlsplit(url or "").path).lower()
    by_extension = next((fmt for ext, fmt in EXTENSIONS
                         if path.endswith(ext) or path.endswith(ext + ".gz")), None)
    if found == "VCF" and (path.endswith(".gz") or path.endswith(".bgz")):
        found = "VCF.gz"
    if by_extension == "VCF" and path.endswith(".vcf.gz"):
        by_extension = "VCF.gz"
    chosen = found or by_extension
    return FORMATS.get(chosen) if chosen else None


def genome(assembly: str | None) -> str | None:
    """The UCSC-style genome name of an assembly name (hg38 for GRCh38 …), None when unknown."""
    return UCSC_DB.get((assembly or "").strip().lower())


def controlled(url: str) -> bool:
    """Whether the file sits behind controlled access (a browser cannot simply load it)."""
    scheme = urlsplit(url).scheme
    return scheme not in ("http", "https", "ftp") or any(host in url for host in CONTROLLED_HOSTS)


@dataclass(frozen=True)
class Offer:
    """One browser's answer for one track: a link, or why not."""

    browser: str
    url: str | None
    reason: str | None = None


def _index_url(url: str, fmt: Format) -> str | None:
    return url + fmt.index if fmt.index else None


def ucsc_link(url: str, fmt: Format, db: str, name: str) -> str:
    """hgTracks with the file as a custom track (`hgt.customText`: a track line naming the
    file for binary formats, the file's URL for text formats)."""
    text = (f'track type={fmt.ucsc} name="{_quoted(name)}" bigDataUrl={url}' if fmt.binary
            else url)
    return "https://genome.ucsc.edu/cgi-bin/hgTracks?" + urlencode(
        {"db": db, "hgt.customText": text})


def igv_link(url: str, fmt: Format, db: str, name: str) -> str:
    """IGV-Web (igv.org/app) with the genome and the file (its index next to it where needed)."""
    params = {"genome": db, "file": url, "name": name, "format": fmt.igv or ""}
    index = _index_url(url, fmt)
    if index:
        params["index"] = index
    return "https://igv.org/app/?" + urlencode(params)


def ensembl_link(url: str, db: str) -> str:
    """Ensembl's Region in detail with the file attached by URL (`contigviewbottom=url:…`)."""
    site, species, region = ENSEMBL[db]
    attached = quote(url, safe="")
    return f"{site}/{species}/Location/View?r={region};contigviewbottom=url:{attached}=normal"


def _quoted(text: str) -> str:
    return re.sub(r'["\\\s]+', " ", text).strip()


def offers(url: str | None, fmt: Format | None, assembly: str | None, name: str) -> list[Offer]:
    """UCSC, IGV-Web and Ensembl links for a track, or for each the reason it cannot be shown."""
    browsers = ("UCSC Genome Browser", "IGV-Web", "Ensembl")
    if not url:
        return [Offer(b, None, "the track names no file") for b in browsers]
    if controlled(url):
        return [Offer(b, None, "the file is under controlled access: request access from its "
                               "provider") for b in browsers]
    if fmt is None:
        return [Offer(b, None, "the file format is not one genome browsers read")
                for b in browsers]
    db = genome(assembly)
    if db is None:
        return [Offer(b, None, f"assembly {assembly or '(none)'} is not one this site maps to "
                               f"a browser's genome") for b in browsers]
    found = [Offer(browsers[0], ucsc_link(url, fmt, db, name)) if fmt.ucsc
             else Offer(browsers[0], None, f"UCSC does not read {fmt.name} as a custom track")]
    if fmt.igv and db in IGV_GENOMES:
        found.append(Offer(browsers[1], igv_link(url, fmt, db, name)))
    else:
        found.append(Offer(browsers[1], None, f"IGV-Web does not read {fmt.name}" if not fmt.igv
                           else f"IGV-Web hosts no {db} genome"))
    if fmt.ensembl and db in ENSEMBL:
        found.append(Offer(browsers[2], ensembl_link(url, db)))
    else:
        found.append(Offer(browsers[2], None, f"Ensembl does not attach {fmt.name} files"
                           if not fmt.ensembl else f"Ensembl hosts no {db} ({assembly}) site"))
    return found


def igv_track(url: str, fmt: Format, name: str) -> dict[str, object]:
    """The igv.js track configuration of a file: its index next to it where the format has one;
    a text file is read whole (`indexed: false`)."""
    track: dict[str, object] = {"name": name, "url": url, "format": fmt.igv or ""}
    index = _index_url(url, fmt)
    if index:
        track["indexURL"] = index
    elif not fmt.binary:
        track["indexed"] = False
    return track
