"""Read the roads of an OpenStreetMap PBF file into flat arrays (a "way table").

The reader is `pyosmium <https://osmcode.org/pyosmium/>`_ (libosmium's Python bindings):
one pass over the file with a node-location index, a Python callback per way, and the
node references and coordinates appended to typed arrays.  On the national file
(3.26 M ways, 29.6 M nodes, 171 MB) that takes about 40-80 s on this machine, against
several minutes for GDAL's OSM driver, which also splits ways at its own
``lines``/``multilinestrings`` layers and hides ``oneway``/``bridge`` in ``other_tags``
(``bench/osm_readers.py`` prints both).

Any OSM PBF works unchanged: the national file of ``../shared/data/roads``, a current
Geofabrik ``vietnam-latest.osm.pbf`` or a province extract.  Only ways with a ``highway``
tag are kept; the tags read are ``highway``, ``oneway``, ``bridge``, ``tunnel`` and
``junction=roundabout`` (implies one-way), ``access`` (``no``/``private`` dropped) and
``area=yes`` (dropped).

The table is cached on disk as plain ``.npy`` arrays (no pickle) in a directory named by
the file's fingerprint (resolved path, size, mtime); it is written to a temporary
directory and renamed into place, so an interrupted read leaves no partial cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geo._errors import DataSourceNotFoundError, InvalidDataError

__all__ = [
    "HIGHWAY_CLASSES",
    "VIETNAM_BOUNDS",
    "WayTable",
    "read_pbf_ways",
]

#: Canonical highway classes kept from the PBF (index = code in :attr:`WayTable.klass`).
#: ``*_link`` maps to its parent; ``residential``/``living_street``/``road`` are kept as
#: their own classes when a full OSM file has them (the national file folds them into
#: ``unclassified``); ``footway``/``steps``/``pedestrian``/``cycleway``/``bridleway`` are
#: kept for the walk profile.
HIGHWAY_CLASSES: tuple[str, ...] = (
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
    "residential", "living_street", "service", "track", "path", "footway",
    "pedestrian", "steps", "cycleway",
)
_CLASS_CODE = {c: i for i, c in enumerate(HIGHWAY_CLASSES)}
_ALIASES = {"road": "unclassified", "bridleway": "path", "busway": "unclassified",
            "corridor": "footway"}
_SKIP = {"proposed", "construction", "abandoned", "platform", "raceway", "rest_area",
         "services", "elevator", "bus_stop", "escape", "emergency_bay", "via_ferrata"}

#: Way flags (bits of :attr:`WayTable.flags`).
ONEWAY, BRIDGE, TUNNEL, REVERSED = 1, 2, 4, 8

#: Vietnam's extent (lon/lat), islands included: a PBF must overlap it.
VIETNAM_BOUNDS: tuple[float, float, float, float] = (102.0, 8.0, 117.9, 23.5)

_TABLE_VERSION = "ways-v1"
_ARRAYS = ("refs", "x", "y", "way_start", "klass", "flags")


@dataclass
class WayTable:
    """The highway ways of an OSM file as flat arrays.

    Attributes
    ----------
    refs : ndarray of int64, shape (V,)
        OSM node id of every way vertex, ways one after another.
    x, y : ndarray of int32, shape (V,)
        Vertex longitude / latitude in 1e-7 degrees (OSM's fixed-point precision).
    way_start : ndarray of int64, shape (W + 1,)
        Way ``i`` has vertices ``way_start[i]:way_start[i + 1]``.
    klass : ndarray of uint8, shape (W,)
        Index into :data:`HIGHWAY_CLASSES`.
    flags : ndarray of uint8, shape (W,)
        :data:`ONEWAY` | :data:`BRIDGE` | :data:`TUNNEL` | :data:`REVERSED` (``oneway=-1``).
    source : dict
        File name, size, fingerprint, counts and read time.
    """

    refs: np.ndarray
    x: np.ndarray
    y: np.ndarray
    way_start: np.ndarray
    klass: np.ndarray
    flags: np.ndarray
    source: dict[str, Any]

    @property
    def n_ways(self) -> int:
        """Number of ways."""
        return int(len(self.klass))

    @property
    def n_vertices(self) -> int:
        """Number of way vertices (a node shared by two ways counts twice)."""
        return int(len(self.refs))

    def lonlat(self, idx: np.ndarray | slice | None = None) -> np.ndarray:
        """``(k, 2)`` lon/lat (float64) of the vertices ``idx`` (all by default)."""
        sel = slice(None) if idx is None else idx
        return np.column_stack([self.x[sel] * 1e-7, self.y[sel] * 1e-7])

    def save(self, directory: Path) -> None:
        """Write the arrays and the source record into ``directory`` (atomically)."""
        tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            for name in _ARRAYS:
                np.save(tmp / f"{name}.npy", getattr(self, name), allow_pickle=False)
            (tmp / "source.json").write_text(json.dumps(self.source, indent=1))
            shutil.rmtree(directory, ignore_errors=True)
            tmp.rename(directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> WayTable:
        """Read a table written by :meth:`save` (memory-mapped by default)."""
        mode = "r" if mmap else None
        arrays = {n: np.load(directory / f"{n}.npy", mmap_mode=mode, allow_pickle=False)
                  for n in _ARRAYS}
        source = json.loads((directory / "source.json").read_text())
        return cls(source=source, **arrays)


def _fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"file": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def fingerprint_key(path: str | Path) -> str:
    """Short hash of a file's resolved path, size and mtime (cache key part)."""
    fp = _fingerprint(Path(path))
    return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:16]


def _check_pbf(path: Path) -> None:
    if not path.exists():
        raise DataSourceNotFoundError(f"{path}: OSM PBF file not found")
    if not path.is_file():
        raise InvalidDataError(f"{path}: not a file",
                               [{"file": str(path), "reason": "not a regular file"}])
    with path.open("rb") as fh:
        head = fh.read(64)
    # an OSM PBF starts with a 4-byte header length and a BlobHeader of type "OSMHeader"
    if len(head) < 16 or b"OSMHeader" not in head[:32]:
        raise InvalidDataError(
            f"{path}: not an OSM PBF file (no OSMHeader block at the start)",
            [{"file": str(path), "reason": "not an OSM PBF file"}])


def read_pbf_ways(
    path: str | Path,
    cache_dir: str | Path | None = None,
    *,
    expected_bounds: tuple[float, float, float, float] | None = VIETNAM_BOUNDS,
    progress: bool = False,
) -> WayTable:
    """Read (or load from cache) the highway ways of an OSM PBF file.

    Parameters
    ----------
    path : path
        ``.osm.pbf`` file (any OSM PBF: a national or regional extract).
    cache_dir : path, optional
        Where the table is cached (``ways_<fingerprint>/``); None reads every time.
    expected_bounds : tuple, optional
        (min lon, min lat, max lon, max lat) the roads must overlap (default: Vietnam);
        None skips the check.
    progress : bool
        Show a running count of ways read.

    Returns
    -------
    WayTable

    Raises
    ------
    DataSourceNotFoundError
        The file does not exist.
    InvalidDataError
        Not a PBF, truncated or unreadable, no highway, or no overlap with
        ``expected_bounds``; the message names the file.  No cache is written then.
    """
    path = Path(path)
    _check_pbf(path)
    key = hashlib.sha256((_TABLE_VERSION + json.dumps(_fingerprint(path), sort_keys=True)
                          + json.dumps(expected_bounds)).encode()).hexdigest()[:16]
    cached = Path(cache_dir) / f"ways_{key}" if cache_dir is not None else None
    if cached is not None and (cached / "source.json").exists():
        try:
            return WayTable.load(cached)
        except (OSError, ValueError, KeyError):
            shutil.rmtree(cached, ignore_errors=True)
    table = _read(path, progress)
    _check_content(path, table, expected_bounds)
    table.source["fingerprint"] = key
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        table.save(cached)
    return table


def _read(path: Path, progress: bool) -> WayTable:
    import osmium

    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc=f"reading {path.name}", unit=" ways", unit_scale=True)

    refs, xs, ys = array("q"), array("i"), array("i")
    counts, klass, flags = array("q"), array("B"), array("B")
    skipped = {"not_highway": 0, "access": 0, "area": 0, "unknown_class": 0,
               "too_short": 0}

    class _Ways(osmium.SimpleHandler):
        def way(self, w: Any) -> None:  # noqa: PLR0912 - one flat pass is fastest
            tags = w.tags
            hw = tags.get("highway")
            if hw is None:
                skipped["not_highway"] += 1
                return
            if tags.get("access") in ("no", "private") or tags.get("area") == "yes":
                skipped["access" if tags.get("area") != "yes" else "area"] += 1
                return
            h = hw.strip().lower()
            if h.endswith("_link"):
                h = h[:-5]
            h = _ALIASES.get(h, h)
            if h.startswith("track"):
                h = "track"
            code = _CLASS_CODE.get(h)
            if code is None:
                skipped["unknown_class" if h not in _SKIP else "not_highway"] += 1
                return
            n = 0
            for nd in w.nodes:
                loc = nd.location
                if not loc.valid():
                    continue
                refs.append(nd.ref)
                xs.append(loc.x)
                ys.append(loc.y)
                n += 1
            if n < 2:
                del refs[len(refs) - n:], xs[len(xs) - n:], ys[len(ys) - n:]
                skipped["too_short"] += 1
                return
            f = 0
            ow = tags.get("oneway")
            if ow in ("yes", "true", "1") or tags.get("junction") == "roundabout":
                f |= ONEWAY
            elif ow == "-1":
                f |= ONEWAY | REVERSED
            br = tags.get("bridge")
            if br is not None and br != "no":
                f |= BRIDGE
            tu = tags.get("tunnel")
            if tu is not None and tu != "no":
                f |= TUNNEL
            counts.append(n)
            klass.append(code)
            flags.append(f)
            if bar is not None and len(counts) % 50_000 == 0:
                bar.update(50_000)

    try:
        _Ways().apply_file(str(path), locations=True, idx="flex_mem")
    except RuntimeError as exc:
        raise InvalidDataError(
            f"{path}: cannot read the OSM PBF file ({exc}); is it truncated or corrupt?",
            [{"file": str(path), "reason": f"unreadable PBF: {exc}"}]) from exc
    finally:
        if bar is not None:
            bar.update(len(counts) % 50_000)
            bar.close()
    cnt = np.frombuffer(counts, dtype=np.int64)
    way_start = np.zeros(len(cnt) + 1, dtype=np.int64)
    np.cumsum(cnt, out=way_start[1:])
    st = path.stat()
    source = {"file": path.name, "path": str(path.resolve()), "size": st.st_size,
              "mtime_ns": st.st_mtime_ns, "ways": int(len(cnt)),
              "vertices": int(len(refs)), "skipped_ways": skipped,
              "read_seconds": round(time.perf_counter() - t0, 1), "reader": "pyosmium"}
    return WayTable(refs=np.frombuffer(refs, dtype=np.int64).copy(),
                    x=np.frombuffer(xs, dtype=np.int32).copy(),
                    y=np.frombuffer(ys, dtype=np.int32).copy(), way_start=way_start,
                    klass=np.frombuffer(klass, dtype=np.uint8).copy(),
                    flags=np.frombuffer(flags, dtype=np.uint8).copy(), source=source)


def _check_content(path: Path, table: WayTable,
                   expected: tuple[float, float, float, float] | None) -> None:
    if table.n_ways == 0:
        raise InvalidDataError(f"{path}: the OSM file has no highway ways",
                               [{"file": str(path), "reason": "no way tagged highway=*"}])
    lon = table.x * 1e-7
    lat = table.y * 1e-7
    bounds = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    table.source["bounds"] = [round(b, 5) for b in bounds]
    if expected is not None:
        w, s, e, n = expected
        inside = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
        share = float(inside.mean())
        table.source["share_inside_expected_bounds"] = round(share, 4)
        if share == 0.0:
            raise InvalidDataError(
                f"{path}: its roads (bounds {table.source['bounds']}) do not overlap the "
                f"expected area {list(expected)} (Vietnam)",
                [{"file": str(path), "reason": "does not overlap Vietnam"}])
