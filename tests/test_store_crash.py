"""The registry-writes bench in small: a real server, concurrent writers, and kill -9.

``bench/registry_writes.py`` with few edits and 2 kill -9 trials (the full run
— 30 trials of 1,000-edit streams — is the bench itself).  Checks what must
hold whatever the machine's speed: no edit lost, every acknowledged edit in
the store after SIGKILL, ``PRAGMA integrity_check`` ok, GDAL reads every layer,
no temporary file left, the file mode kept.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "registry_writes.py"


def _bench():
    spec = importlib.util.spec_from_file_location("registry_writes", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_writes_under_load_and_kill9(store_path, capsys):
    result = _bench().main(["--store", str(store_path), "--single", "40", "--writers", "10",
                            "--rounds", "3", "--trials", "2", "--edits", "150", "--seed", "3"])
    single, conc, kills = result["single"], result["concurrent"], result["kill9"]
    assert single["edits"] == 40 and single["edits_per_s"] > 0
    assert conc["lost"] == 0 and conc["n_errors"] == 0 and conc["edits"] == 30
    assert kills["trials"] == 2 and kills["trials_with_problems"] == 0, kills["problems"]
    out = capsys.readouterr().out
    assert "acknowledged edits all present" in out
