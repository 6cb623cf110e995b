"""Small OSM PBF files written by the tests (pyosmium), for the reader's and graph's checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def write_pbf(path: Path, nodes: Mapping[int, tuple[float, float]],
              ways: Sequence[tuple[Sequence[int], Mapping[str, str]]]) -> Path:
    """Write an OSM PBF with ``nodes`` ({id: (lon, lat)}) and ``ways`` ([(refs, tags)])."""
    import osmium
    from osmium.osm import mutable

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    with osmium.SimpleWriter(str(path)) as w:
        for nid in sorted(nodes):
            lon, lat = nodes[nid]
            w.add_node(mutable.Node(id=nid, location=osmium.osm.Location(lon, lat),
                                    version=1))
        for i, (refs, tags) in enumerate(ways, start=1):
            w.add_way(mutable.Way(id=i, nodes=list(refs), tags=dict(tags), version=1))
    return path
