"""fairtracks-ld: FAIRtracks genomic track metadata published as linked data."""

__version__ = "0.1.0"
