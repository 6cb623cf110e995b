"""A generated corpus of malformed import files: each one refused cleanly, the store untouched.

The corpus (over 300 files: CSV, GeoJSON, GeoPackage, zipped Shapefile) covers
issue 12's import defects — huge numbers (40 digits, ``1e308``, ``2**70``),
limits ignored (long names and ids, capacity 10^12), NUL and other control
characters, names given as JSON objects, 4-D points, an unknown CRS,
Arabic-Indic and full-width digits — plus broken encodings and structures.
Every file must give an :class:`InvalidDataError` (or its :class:`CRSError`)
with per-row or per-file problems — never another exception — and the store
must be byte-identical afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import LineString, Point

from geo._errors import InvalidDataError
from geo.facilities import INT_RANGES, TEXT_LIMITS
from geo.registry import import_facilities

LON, LAT = 108.99, 11.57
BASE = {"name": "Trung tâm thử", "kind": "shelter"}

BAD_INTS = {
    "capacity": ["9" * 40, "1e308", "-1", "100001", "1000000000000", "1.5", "abc", "١٢٠",
                 "１２０", "NaN", "inf", "0x10", "1_000", "12 0", "--1", "1e2e3"],
    "planned_year": ["1899", "2101", "99999999999999999999", "２０３０", "year"],
    "version": ["0", "-3", "1e30", "v2"],
}
BAD_COORDS = ["١١٫٥٧", "１１.５７", "abc", "1e400", "nan", "inf", "-inf", "11,57", "0x0B",
              "11.57.1", "١١.57"]
BAD_TEXT = {
    "name": ["A" * 301, "a\x00b", "a\nb", "\x1b[31mred", "a\u2028b", "tab\there", "\x7f"],
    "id": ["a b", "x" * 65, "a\tb", "a\x00b", "line\nbreak"],
    "source": ["s" * 1001, "src\x00"],
    "capacity_note": ["n" * 501, "note\x01"],
    "kind": ["unknown", "shelter\x00", "Shelter; DROP TABLE facilities"],
    "ownership": ["state", "x" * 65],
    "status": ["demolished", "closed\x00"],
    "location_precision": ["street"],
    "commune_code": ["99999", "123456"],
}
BAD_BOOLS = ["maybe", "2", "yes please"]


# --------------------------------------------------------------------------- writers


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n\r') else v
    lines = [",".join(header)] + [",".join(cell(str(v)) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _csv_row(path: Path, **fields: str) -> Path:
    row = {**BASE, "lat": str(LAT), "lon": str(LON), **fields}
    return _csv(path, list(row), [list(row.values())])


def _geojson(path: Path, features: list, **extra: object) -> Path:
    doc = {"type": "FeatureCollection", "features": features, **extra}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _feature(props: dict | None = None, geometry: object = "default") -> dict:
    if geometry == "default":
        geometry = {"type": "Point", "coordinates": [LON, LAT]}
    return {"type": "Feature", "geometry": geometry, "properties": {**BASE, **(props or {})}}


def _gpkg(path: Path, gdf: gpd.GeoDataFrame, layer: str = "facilities") -> Path:
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG")
    return path


def _frame(props: dict | None = None, geom: object = None, crs: object = 4326) -> gpd.GeoDataFrame:
    row = {**BASE, **(props or {})}
    return gpd.GeoDataFrame({k: [v] for k, v in row.items()},
                            geometry=[geom if geom is not None else Point(LON, LAT)], crs=crs)


def _shp_zip(path: Path, gdf: gpd.GeoDataFrame | None, drop: tuple[str, ...] = (),
             extra: dict[str, bytes] | None = None) -> Path:
    work = path.with_suffix("")
    work.mkdir()
    if gdf is not None:
        pyogrio.write_dataframe(gdf, work / "facilities.shp", driver="ESRI Shapefile")
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(work.iterdir()):
            if f.suffix.lower() not in drop:
                zf.write(f, f.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    shutil.rmtree(work)
    return path


@contextlib.contextmanager
def _sqlite(path: Path):
    """A connection that can fire GDAL's R-tree triggers (its ST_* functions registered)."""
    from geo.store import _register_functions

    con = sqlite3.connect(path)
    _register_functions(con)
    try:
        with con:
            yield con
    finally:
        con.close()


# --------------------------------------------------------------------------- the corpus


def build_corpus(d: Path) -> list[Path]:  # noqa: C901, PLR0915 - one list of cases
    """Write the malformed files into ``d``; return their paths."""
    out: list[Path] = []
    n = iter(range(10_000))

    def p(ext: str) -> Path:
        return d / f"bad_{next(n):03d}{ext}"

    # --- CSV: one bad cell in an otherwise valid row
    for col, values in BAD_INTS.items():
        for v in values:
            out.append(_csv_row(p(".csv"), **{col: v}))
    for v in BAD_COORDS:
        out.append(_csv_row(p(".csv"), lat=v))
        out.append(_csv_row(p(".csv"), lon=v))
    for col, values in BAD_TEXT.items():
        for v in values:
            out.append(_csv_row(p(".csv"), **{col: v}))
    for v in BAD_BOOLS:
        out.append(_csv_row(p(".csv"), strengthened=v))
        out.append(_csv_row(p(".csv"), meets_accessibility_criteria=v))
    out.append(_csv_row(p(".csv"), name=""))
    out.append(_csv_row(p(".csv"), name="   "))
    out.append(_csv_row(p(".csv"), lat="91"))
    out.append(_csv_row(p(".csv"), lon="181"))
    out.append(_csv_row(p(".csv"), lat=str(LON), lon=str(LAT)))  # swapped
    out.append(_csv_row(p(".csv"), lat="0", lon="0"))  # outside Vietnam
    out.append(_csv_row(p(".csv"), lat="48.85", lon="2.35"))
    out.append(_csv_row(p(".csv"), lat=str(LAT), lon=""))
    out.append(_csv_row(p(".csv"), name="A" * 2_000_000))  # a 2 MB name
    # --- CSV: structure and encoding
    header = ["name", "kind", "lat", "lon"]
    out.append(_csv(p(".csv"), ["id", *header], [["dup", "A", "shelter", LAT, LON],
                                                  ["dup", "B", "shelter", LAT, LON]]))
    out.append(_csv(p(".csv"), ["kind", "lat", "lon"], [["shelter", LAT, LON]]))  # no name
    out.append(_csv(p(".csv"), ["name", "lat", "lon"], [["A", LAT, LON]]))  # no kind
    out.append(_csv(p(".csv"), ["name", "kind"], [["A", "shelter"]]))  # no location
    out.append(_csv(p(".csv"), ["name", "kind", "lat"], [["A", "shelter", LAT]]))
    for raw in (
        "name,kind,lat,lon\nA,shelter,11.57,108.99,extra,cells\n",
        'name,kind,lat,lon\n"A,shelter,11.57,108.99\n',
        "name,kind,lat,lon\nA\x00,shelter,11.57,108.99\n",
        "\x00\x00\x00\x00",
        "",
        "\n\n\n",
    ):
        f = p(".csv")
        f.write_text(raw, encoding="utf-8")
        out.append(f)
    for data in (
        "name,kind,lat,lon\nTrung tâm,shelter,11.57,108.99\n".encode("cp1258", "replace"),
        "name,kind,lat,lon\nÉcole,shelter,11.57,108.99\n".encode("latin-1"),
        "name,kind,lat,lon\nA,shelter,11.57,108.99\n".encode("utf-16"),
        b"\xff\xfe\x00\x00garbage",
        bytes(range(256)) * 4,
        b"PK\x03\x04" + os.urandom(200),
    ):
        f = p(".csv")
        f.write_bytes(data)
        out.append(f)
    for ext in (".xlsx", ".kml", ".shp", ".parquet", ""):
        f = p(ext)
        f.write_text("name,kind,lat,lon\n", encoding="utf-8")
        out.append(f)

    # --- GeoJSON: values
    huge = {"capacity": [1e308, 2**70, 10**12, -5, 1.5, True, "abc", "١٢", [1], {"n": 1},
                         10**40],
            "planned_year": [1e308, 2**70, 3000, "２０３０"],
            "version": [0, 2**64, -1]}
    for col, values in huge.items():
        for v in values:
            out.append(_geojson(p(".geojson"), [_feature({col: v})]))
    for col in ("name", "kind", "id", "source", "status", "capacity_note", "ownership"):
        for v in ({"vi": "Trung tâm"}, ["a", "b"], {"x": {"y": {"z": 1}}}):
            out.append(_geojson(p(".geojson"), [_feature({col: v})]))
    for col, values in BAD_TEXT.items():
        for v in values:
            out.append(_geojson(p(".geojson"), [_feature({col: v})]))
    out.append(_geojson(p(".geojson"), [_feature({"name": "A" * 20_000})]))
    out.append(_geojson(p(".geojson"), [_feature({"name": None})]))
    out.append(_geojson(p(".geojson"), [_feature({"strengthened": {"a": 1}})]))
    out.append(_geojson(p(".geojson"), [_feature({"extra": {"nested": [1, 2]}})]))
    out.append(_geojson(p(".geojson"), [_feature({"id": "d"}), _feature({"id": "d"})]))
    # --- GeoJSON: geometry
    geoms = [
        {"type": "Point", "coordinates": [LON, LAT, 5]},
        {"type": "Point", "coordinates": [LON, LAT, 5, 7]},
        {"type": "Point", "coordinates": [LON]},
        {"type": "Point", "coordinates": []},
        {"type": "Point", "coordinates": [[LON, LAT]]},
        {"type": "Point", "coordinates": ["108.99", "11.57"]},
        {"type": "Point", "coordinates": [True, False]},
        {"type": "Point", "coordinates": [1e308, 1e308]},
        {"type": "Point", "coordinates": [2**70, 2**70]},
        {"type": "Point", "coordinates": [LAT, LON]},
        {"type": "Point", "coordinates": [0, 0]},
        {"type": "Point", "coordinates": [500000, 1280000]},
        {"type": "Point", "coordinates": None},
        {"type": "Point"},
        {"type": "LineString", "coordinates": [[LON, LAT], [LON + 0.1, LAT]]},
        {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + 0.1, LAT], [LON, LAT + 0.1],
                                             [LON, LAT]]]},
        {"type": "MultiPoint", "coordinates": [[LON, LAT]]},
        {"type": "GeometryCollection", "geometries": []},
        {"type": "Circle", "coordinates": [LON, LAT], "radius": 5},
        "POINT (108.99 11.57)",
        [LON, LAT],
        None,
    ]
    for g in geoms:
        out.append(_geojson(p(".geojson"), [_feature(geometry=g)]))
    # --- GeoJSON: CRS member
    for name in ("EPSG:999999", "urn:ogc:def:crs:EPSG::0", "not a crs", "", 4326, None,
                 "x" * 1000):
        out.append(_geojson(p(".geojson"), [_feature()],
                            crs={"type": "name", "properties": {"name": name}}))
    out.append(_geojson(p(".geojson"), [_feature()], crs={"type": "link", "properties": {}}))
    out.append(_geojson(p(".geojson"), [_feature()], crs="EPSG:4326;DROP"))
    out.append(_geojson(p(".geojson"), [_feature(geometry={"type": "Point",
                                                           "coordinates": [500000, 1280000]})],
                        crs={"type": "name", "properties": {"name": "EPSG:3857"}}))
    # --- GeoJSON: structure
    for raw in (
        "", "{", "[]", "null", "42", '"text"', '{"type": "Feature"}',
        '{"type": "FeatureCollection"}', '{"type": "FeatureCollection", "features": {}}',
        '{"type": "FeatureCollection", "features": [1, 2]}',
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": [1]}]}',
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
        '{"type": "Point", "coordinates": [NaN, 11.57]}, "properties": {"name": "A", '
        '"kind": "shelter"}}]}',
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
        '{"type": "Point", "coordinates": [Infinity, 11.57]}, "properties": {"name": "A", '
        '"kind": "shelter"}}]}',
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
        '{"type": "Point", "coordinates": [108.99, 11.57]}, "properties": {"name": "A", '
        '"kind": "shelter", "capacity": -Infinity}}]}',
        "[" * 100_000 + "]" * 100_000,
        '{"type": "Topology", "objects": {}}',
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
        '{"type": "Point", "coordinates": [108.99, 11.57]}, "properties": {"name": "A\\u0000B",'
        ' "kind": "shelter"}}]}',
    ):
        f = p(".geojson")
        f.write_text(raw, encoding="utf-8")
        out.append(f)
    for data in (b"\xff\xfe{}", "{}".encode("utf-16"), os.urandom(300)):
        f = p(".json")
        f.write_bytes(data)
        out.append(f)

    # --- GeoPackage
    out.append(_gpkg(p(".gpkg"), _frame(geom=Point(LON, LAT, 5))))
    out.append(_gpkg(p(".gpkg"), _frame(geom=LineString([(LON, LAT), (LON + 0.1, LAT)]))))
    out.append(_gpkg(p(".gpkg"), _frame(crs=None)))
    out.append(_gpkg(p(".gpkg"), _frame(geom=Point(500000, 1280000), crs=32648).set_crs(
        4326, allow_override=True)))
    out.append(_gpkg(p(".gpkg"), _frame(geom=Point(LAT, LON))))
    for col, values in BAD_INTS.items():
        for v in values[:6]:
            out.append(_gpkg(p(".gpkg"), _frame({col: v})))
    for col in ("capacity", "planned_year"):
        for v in (10**12, -7, 2**62):
            out.append(_gpkg(p(".gpkg"), _frame({col: v})))
    for col, values in BAD_TEXT.items():
        for v in values:
            if "\x00" not in v:  # GDAL itself cuts text at a NUL: see the SQLite case below
                out.append(_gpkg(p(".gpkg"), _frame({col: v})))
    two = p(".gpkg")
    _gpkg(two, _frame(), layer="a")
    _gpkg(two, _frame(), layer="b")
    out.append(two)
    table = p(".gpkg")
    pyogrio.write_dataframe(gpd.pd.DataFrame({"name": ["A"], "kind": ["shelter"]}), table,
                            layer="facilities", driver="GPKG")
    out.append(table)
    good = _gpkg(d / "good_source.gpkg", _frame())
    data = good.read_bytes()
    for keep in (0, 100, 1024, 4096, len(data) // 2, len(data) - 4096, len(data) - 1):
        f = p(".gpkg")
        f.write_bytes(data[:keep])
        out.append(f)
    for offset in (0, 100, 4096 - 512):  # header, page-1 header, page-1 cells
        f = p(".gpkg")
        f.write_bytes(data[:offset] + os.urandom(512) + data[offset + 512:])
        out.append(f)
    zm = p(".gpkg")  # a 4-D point written straight into the GeoPackage
    shutil.copyfile(good, zm)
    with _sqlite(zm) as con:
        wkb = b"\x01" + struct.pack("<I", 3001) + struct.pack("<4d", LON, LAT, 5.0, 7.0)
        con.execute("UPDATE facilities SET geom = ?",
                    (b"GP\x00\x01" + struct.pack("<i", 4326) + wkb,))
    out.append(zm)
    nul = p(".gpkg")  # a NUL inside a name, which GDAL would silently cut
    shutil.copyfile(good, nul)
    with _sqlite(nul) as con:
        con.execute("UPDATE facilities SET name = ?", ("Trung tâm\x00<script>",))
    out.append(nul)
    unknown = p(".gpkg")  # a CRS nobody knows
    shutil.copyfile(good, unknown)
    with _sqlite(unknown) as con:
        con.execute("INSERT INTO gpkg_spatial_ref_sys VALUES ('x', 99999, 'NONE', 99999, "
                    "'LOCAL_CS[\"nowhere\"]', '')")
        con.execute("UPDATE gpkg_geometry_columns SET srs_id = 99999")
        con.execute("UPDATE gpkg_contents SET srs_id = 99999")
    out.append(unknown)
    good.unlink()

    # --- zipped Shapefile
    out.append(_shp_zip(p(".zip"), _frame(), drop=(".prj",)))  # no CRS
    out.append(_shp_zip(p(".zip"), _frame(geom=Point(LON, LAT, 5))))
    out.append(_shp_zip(p(".zip"), _frame(geom=LineString([(LON, LAT), (LON + 1, LAT)]))))
    out.append(_shp_zip(p(".zip"), _frame(geom=Point(LAT, LON))))
    out.append(_shp_zip(p(".zip"), _frame(geom=Point(0, 0))))
    for col, v in (("capacity", 10**12), ("capacity", -1), ("capacity", 200_000),
                   ("kind", "unknown"), ("name", ""), ("id", "a b"), ("name", "a\tb"),
                   ("status", "gone")):
        out.append(_shp_zip(p(".zip"), _frame({col: v})))
    out.append(_shp_zip(p(".zip"), _frame(), drop=(".shx",)))
    out.append(_shp_zip(p(".zip"), _frame(), drop=(".dbf",)))
    out.append(_shp_zip(p(".zip"), _frame(), drop=(".shp",)))
    out.append(_shp_zip(p(".zip"), None))  # empty archive
    out.append(_shp_zip(p(".zip"), None, extra={"readme.txt": b"no shapefile here"}))
    out.append(_shp_zip(p(".zip"), _frame(), drop=(".prj",),
                        extra={"facilities.prj": b"GARBAGE"}))
    two_shp = p(".zip")  # two layers, neither named facilities
    work = d / "two_shp"
    work.mkdir()
    for name in ("a", "b"):
        pyogrio.write_dataframe(_frame(), work / f"{name}.shp", driver="ESRI Shapefile")
    with zipfile.ZipFile(two_shp, "w") as zf:
        for f in sorted(work.iterdir()):
            zf.write(f, f.name)
    shutil.rmtree(work)
    out.append(two_shp)
    for data in (b"", b"PK", os.urandom(400), b"PK\x05\x06" + b"\x00" * 18):
        f = p(".zip")
        f.write_bytes(data)
        out.append(f)
    return out


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def _signature(store: Path) -> tuple:
    st = os.stat(store)
    wal = Path(f"{store}-wal")
    return st.st_size, st.st_mtime_ns, st.st_ino, wal.stat().st_size if wal.exists() else None


def _digest(store: Path) -> str:
    return hashlib.sha256(store.read_bytes()).hexdigest()


def test_corpus_size_and_kinds(corpus):
    assert len(corpus) >= 300
    kinds = {p.suffix for p in corpus}
    assert {".csv", ".geojson", ".gpkg", ".zip"} <= kinds


def test_every_malformed_file_is_refused_cleanly(corpus, store_copy):
    digest, sig = _digest(store_copy), _signature(store_copy)
    failures = []
    for k, path in enumerate(corpus):
        try:
            report = import_facilities(store_copy, path)
        except InvalidDataError as exc:  # CRSError included
            if not exc.problems or not all(p.get("reason") for p in exc.problems):
                failures.append(f"{path.name}: no per-row/per-file problems ({exc})")
        except Exception as exc:  # noqa: BLE001 - a traceback is the defect
            failures.append(f"{path.name}: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            failures.append(f"{path.name}: imported ({report['inserted']} inserted)")
        if _signature(store_copy) != sig or (k % 60 == 59 and _digest(store_copy) != digest):
            pytest.fail(f"store changed after {path.name}")
    assert _digest(store_copy) == digest
    assert not failures, f"{len(failures)} of {len(corpus)}:\n" + "\n".join(failures[:40])


def test_skip_invalid_never_writes_an_invalid_row(corpus, store_copy):
    from geo.registry import read_facilities

    for path in corpus[::5]:
        with contextlib.suppress(InvalidDataError):
            import_facilities(store_copy, path, skip_invalid=True)
    for rec in read_facilities(store_copy).itertuples():
        assert len(str(rec.name)) <= TEXT_LIMITS["name"] and "\x00" not in str(rec.name)
        assert gpd.pd.isna(rec.capacity) or 0 <= rec.capacity <= INT_RANGES["capacity"][1]


def test_api_models_use_the_same_limits():
    from app.routes._models import FacilityChanges, FacilityProperties

    for model in (FacilityProperties, FacilityChanges):
        for name, field in model.model_fields.items():
            meta = {type(m).__name__: m for m in field.metadata}
            if "MaxLen" in meta and name in TEXT_LIMITS:
                assert meta["MaxLen"].max_length == TEXT_LIMITS[name], (model, name)
            if name in INT_RANGES and ("Ge" in meta or "Le" in meta):
                lo, hi = INT_RANGES[name]
                assert meta["Ge"].ge == lo and meta["Le"].le == hi, (model, name)


def test_huge_numbers_and_limits_are_per_row_errors(tmp_path, store_copy):
    path = _csv(tmp_path / "mixed.csv", ["name", "kind", "lat", "lon", "capacity"], [
        ["Good", "shelter", LAT, LON, "10"],
        ["Forty digits", "shelter", LAT, LON, "9" * 40],
        ["Too big", "shelter", LAT, LON, "1000000000000"],
        ["Arabic", "shelter", "١١٫٥٧", LON, ""],
    ])
    with pytest.raises(InvalidDataError) as err:
        import_facilities(store_copy, path)
    by_row = {(p["row"], p["field"]): p["reason"] for p in err.value.problems}
    assert "out of range" in by_row[(2, "capacity")]
    assert by_row[(3, "capacity")] == "must be between 0 and 100000, got 1000000000000"
    assert "ASCII digits" in by_row[(4, "lat")]
    assert not any(row == 1 for row, _ in by_row)
    report = import_facilities(store_copy, path, skip_invalid=True)
    assert report["inserted"] == 1 and len(report["skipped"]) >= 3
