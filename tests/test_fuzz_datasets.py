"""Fuzzing the dataset parser: 10,000 mutations of a valid dataset, each must end in a validated dataset
(whose regimens can be built) or a KetasimError naming where the problem is; nothing else may escape.

Parse only (no simulation), bounded to well under a minute."""

from __future__ import annotations

import random
import time

import numpy as np

from ketasim.datasets import parse_dataset
from ketasim.errors import KetasimError

N_INPUTS = 10_000
TIME_LIMIT_S = 60.0

BASE = """# units: TIME=h, AMT=mg, DV=ng/mL, DUR=min, WT=kg
# cmt: 1=iv:ketamine, 2=oral:ketamine, 7=obs:S-ketamine
# dv: R-ketamine
ID,TIME,AMT,RATE,DUR,II,ADDL,EVID,CMT,DV,MDV,WT,AGE
1,0,35,52.5,.,.,0,1,1,.,1,70,41
1,0.5,.,.,.,.,0,0,7,80.1,0,70,41
1,1,.,.,.,.,0,0,1,55,0,70,41
1,4,50,0,.,24,2,1,2,.,1,70,41
1,6,.,.,.,.,0,0,7,12.5,0,70,41
2,0,20,-2,40,.,0,1,1,.,1,82.5,35
2,2,.,.,.,.,0,0,7,9.9,0,82.5,35
2,2,.,.,.,.,0,2,7,.,1,82.5,35
2,8,.,.,.,.,0,0,1,1.2,0,82.5,35
"""

TOKENS = [
    "", ".", "0", "1", "2", "3", "4", "7", "9", "-1", "-2", "0.5", "1e3", "1e400", "-0", "nan", "inf",
    "abc", "1,2", '"', '"1"', " 1 ", "1.5", "99999", "1e-300", "NA", "ketamine", "#", "\t", "--", "0x10",
]  # fmt: skip
UNITS = ["h", "min", "d", "s", "mg", "ug", "g", "umol", "nmol", "ng/mL", "mg/L", "uM", "nM", "kg", "lb",
         "parsec", "degC", "", "mg/kg", "1/h", "%", "ng/mL/h", "week", "µg", "mcg", "m", "L"]  # fmt: skip
COLUMNS = ["TIME", "AMT", "DV", "DUR", "WT", "RATE", "II", "FOO", "time"]
CMT_DECL = ["1=iv:ketamine", "2=oral", "3=nasal:esketamine", "7=obs:S-ketamine", "x=iv", "1=im", "4=obs",
            "5=iv:", "1=smoke:ketamine", "9", "=", "1=obs:", "2=po:ketamine"]  # fmt: skip


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    data_start = next((i for i, s in enumerate(lines) if s and not s.startswith("#")), None)
    if data_start is None or len(lines) < 4:  # nothing left to mutate structurally: add a line
        return text + rng.choice(["1,0,1,0,.,.,0,1,1,.,1,70,41\n", "ID,TIME\n", "\n", "#\n"])
    op = rng.randrange(12)
    if op <= 3:  # replace one cell
        i = rng.randrange(data_start, len(lines))
        cells = lines[i].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(TOKENS)
        lines[i] = ",".join(cells)
    elif op == 4:  # delete a line
        del lines[rng.randrange(len(lines))]
    elif op == 5:  # duplicate or move a line
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines.insert(j, lines[i] if rng.random() < 0.5 else lines.pop(i))
    elif op == 6:  # drop a column
        k = rng.randrange(len(lines[data_start].split(",")))
        lines = lines[:data_start] + [",".join(c for n, c in enumerate(s.split(",")) if n != k)
                                       for s in lines[data_start:]]  # fmt: skip
    elif op == 7:  # rename a header column
        cells = lines[data_start].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(
            ["EVID", "ID", "DV", "X", "", "TIME", "ADDL", "SS", "CYP2B6"]
        )
        lines[data_start] = ",".join(cells)
    elif op == 8:  # change a unit declaration
        lines[0] = "# units: " + ", ".join(
            f"{c}={rng.choice(UNITS)}" for c in rng.sample(COLUMNS, rng.randint(0, 5))
        )
    elif op == 9:  # change the compartment map or the analyte
        if rng.random() < 0.7:
            lines[1] = "# cmt: " + ", ".join(rng.sample(CMT_DECL, rng.randint(0, 4)))
        else:
            lines[2] = "# dv: " + rng.choice(["S-ketamine", "", "x", ","])
    elif op == 10:  # truncate the text somewhere
        text = "\n".join(lines)
        return text[: rng.randrange(len(text) + 1)]
    else:  # insert a garbage line
        lines.insert(
            rng.randrange(len(lines) + 1),
            rng.choice(["", ",,,,", "1", "#", "ID,TIME", "1,2,3,4,5,6,7,8,9,10,11,12,13", '"a,b"']),
        )
    return "\n".join(lines) + "\n"


def _check_dataset(d) -> None:
    r = d.records
    assert np.all(np.isfinite(r["TIME"])) and np.all(r["TIME"] >= 0)
    doses = r[r["EVID"] == 1]
    assert np.all(np.isfinite(doses["AMT"])) and np.all(doses["AMT"] >= 0)
    assert np.all(np.isfinite(doses["DURATION"])) and np.all(doses["DURATION"] >= 0)
    obs = d.observations()
    assert np.all(np.isfinite(obs["DV"])) and obs["ANALYTE"].notna().all()
    for sid in d.ids:
        d.regimen(sid)  # every dosing record is a valid Dose
    d.summary()


def test_ten_thousand_mutated_datasets_end_in_a_dataset_or_a_clear_error():
    _check_dataset(parse_dataset(BASE, source="base.csv"))  # the seed input is valid
    rng = random.Random(20261122)
    start = time.perf_counter()
    outcomes = {"dataset": 0, "error": 0}
    for k in range(N_INPUTS):
        text = BASE
        for _ in range(rng.choice((1, 1, 2, 3))):
            text = _mutate(text, rng)
        try:
            d = parse_dataset(text, source="fuzz.csv")
        except KetasimError as exc:
            msg = str(exc)
            assert msg.startswith("fuzz.csv") or "units" in msg or "line" in msg, (k, msg, text)
            assert "\n" not in msg, (k, msg)
            outcomes["error"] += 1
            continue
        except Exception as exc:  # pragma: no cover - the failure report
            raise AssertionError(f"input {k} raised {type(exc).__name__}: {exc}\n{text}") from exc
        try:
            _check_dataset(d)
        except KetasimError as exc:  # pragma: no cover
            raise AssertionError(f"input {k} parsed but its regimen failed: {exc}\n{text}") from exc
        outcomes["dataset"] += 1
    elapsed = time.perf_counter() - start
    assert sum(outcomes.values()) == N_INPUTS
    # both outcomes occur often: the mutations neither always break nor never break the input
    assert outcomes["dataset"] > 1000 and outcomes["error"] > 1000, outcomes
    assert elapsed < TIME_LIMIT_S, f"{N_INPUTS} inputs took {elapsed:.1f} s"
