"""Faults: processes killed mid-write, full disks, signals, internal errors and exit codes.

Kill campaign: every command that writes (`convert`, `mine`, `train`, `score`, `evaluate`) runs
as a real process and is SIGKILLed at a random point, either a random time into its run or a
random moment after its first temporary output appears (the write phase), starting from no output
or from the previous run's output. Then: no output under a final name may differ from a complete
run's (absent or whole, never partial), the next run must leave no temporary file behind, and its
output must be byte-identical to an uninterrupted run's. CI runs a few kill points per command;
`pytest -m slow -k campaign` runs the long campaign recorded in bench/RESULTS.md.

Disk full: the same commands write onto a size-limited tmpfs mounted in a private mount namespace
(`unshare`); each must exit 1 with one clear error, leaving no temporary file and no partial output
(the previous output, when there was one, intact). Skipped where such a mount is not permitted.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from blazingaml import cli

from .conftest import ROOT

FAN = str(ROOT / "patterns" / "gfp" / "fan.pattern")
COMMANDS = ("convert", "mine", "train", "score", "evaluate")


def blazingaml(*argv) -> list[str]:
    return [sys.executable, "-m", "blazingaml.cli", *map(str, argv), "--quiet"]


@dataclass
class Command:
    """One command line writing `outputs` (files or directories) in directory `out`."""

    argv: list[str]
    out: Path
    outputs: list[Path]


def command(name: str, inputs: dict, out: Path) -> Command:
    csv, parquet, model = inputs["csv"], inputs["parquet"], inputs["model"]
    argv, outputs = {
        "convert": (["convert", csv, "--out", out / "tx.parquet"], ["tx.parquet", "tx.accounts.parquet"]),
        "mine": (["mine", "--patterns", FAN, "--input", parquet, "--output", out / "features.parquet"],
                 ["features.parquet"]),
        "train": (["train", "--input", parquet, "--patterns", FAN, "--out", out / "model"], ["model"]),
        "score": (["score", "--model", model, "--input", parquet, "--output", out / "scored.parquet", "--explain"],
                  ["scored.parquet", "scored.alerts.jsonl"]),
        "evaluate": (["evaluate", "--transactions", parquet, "--patterns", FAN, "--report", out / "report",
                      "--no-ablation"], ["report"]),
    }[name]
    return Command(blazingaml(*argv), out, [out / o for o in outputs])


def digest(path: Path):
    """sha256 of a file, {name: sha256} of a directory's files, None when absent."""
    if path.is_dir():
        return {p.name: digest(p) for p in sorted(path.iterdir())}
    if path.exists():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return None


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith((".tmp", ".old")))


def clear(cmd: Command) -> None:
    for path in cmd.outputs:
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def inputs(small_world, tmp_path_factory):
    """The small generated world as CSV and Parquet, and a model trained on it."""
    files, parquet = small_world
    model = tmp_path_factory.mktemp("inputs") / "model"
    assert cli.main(["train", "--input", str(parquet), "--patterns", FAN, "--out", str(model), "--quiet"]) == 0
    return {"csv": files.trans, "parquet": parquet, "model": model}


@dataclass
class Reference:
    """An uninterrupted run: its outputs' digests, a copy of them and how long it took."""

    digests: list
    copy: Path
    seconds: float


def reference_run(cmd: Command, keep: Path) -> Reference:
    clear(cmd)
    t0 = time.perf_counter()
    done = subprocess.run(cmd.argv, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr
    keep.mkdir(parents=True, exist_ok=True)
    for path in cmd.outputs:
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, keep / path.name)
    return Reference([digest(p) for p in cmd.outputs], keep, seconds)


@dataclass
class Tally:
    """What a kill campaign on one command saw."""

    trials: int = 0
    kill_points: int = 0            # runs killed before they finished
    killed_while_writing: int = 0   # of those, with a temporary output on disk at the moment of the kill
    partial_outputs: int = 0        # outputs under a final name neither absent, previous nor complete
    stale_after_rerun: int = 0      # temporaries left after the next, uninterrupted run
    rerun_differences: int = 0      # reruns whose outputs were not byte-identical to the reference
    notes: list = field(default_factory=list)


def freeze(proc: subprocess.Popen) -> bool:
    """SIGSTOP the command's process group, so that what it has on disk cannot change before the
    kill; False when it had already exited."""
    if proc.poll() is not None:
        return False
    try:
        os.killpg(proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        return False
    return True


def kill_trial(cmd: Command, ref: Reference, rng: random.Random, over_previous: bool, at_write: bool,
               tally: Tally) -> None:
    clear(cmd)
    if over_previous:
        for path in cmd.outputs:
            (shutil.copytree if (ref.copy / path.name).is_dir() else shutil.copy2)(ref.copy / path.name, path)
    proc = subprocess.Popen(cmd.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    if at_write:   # some commands write for milliseconds only: watch closely, kill soon
        delay = rng.uniform(0, 0.01)
        while proc.poll() is None:
            while proc.poll() is None and not temporaries(cmd.out):
                time.sleep(0.0005)
            time.sleep(delay)
            if freeze(proc) and temporaries(cmd.out):
                break
            if proc.poll() is None:   # renamed into place before the freeze: on to the next one, sooner
                os.killpg(proc.pid, signal.SIGCONT)
            delay /= 4
    else:
        deadline = time.perf_counter() + rng.uniform(0, ref.seconds)
        while proc.poll() is None and time.perf_counter() < deadline:
            time.sleep(0.001)
    if freeze(proc):
        writing = bool(temporaries(cmd.out))   # the process is stopped: what is on disk stays put
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        tally.kill_points += 1
        tally.killed_while_writing += writing
    for path, want in zip(cmd.outputs, ref.digests):
        if digest(path) not in (None, want):
            tally.partial_outputs += 1
            tally.notes.append(f"partial {path.name} (over_previous={over_previous}, at_write={at_write})")
    done = subprocess.run(cmd.argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    tally.stale_after_rerun += len(temporaries(cmd.out))
    tally.rerun_differences += [digest(p) for p in cmd.outputs] != ref.digests


@pytest.fixture(scope="module")
def references(inputs, tmp_path_factory):
    """One uninterrupted run of each command (made on first use), shared by the tests below."""
    made = {}

    def get(name: str) -> Reference:
        if name not in made:
            base = tmp_path_factory.mktemp(f"reference-{name}")
            cmd = command(name, inputs, base / "out")
            cmd.out.mkdir()
            made[name] = reference_run(cmd, base / "copy")
        return made[name]

    return get


def campaign(name: str, inputs: dict, ref: Reference, workdir: Path, trials: int, seed: int,
             at_write_only: bool = False) -> Tally:
    """`trials` kill trials, alternating: over the previous output or from none; at the write
    phase or at a random time."""
    cmd = command(name, inputs, workdir)
    cmd.out.mkdir(parents=True, exist_ok=True)
    rng, tally = random.Random(seed), Tally()
    for i in range(trials):
        tally.trials += 1
        kill_trial(cmd, ref, rng, over_previous=i % 2 == 0, at_write=at_write_only or i % 4 < 2, tally=tally)
        if at_write_only and tally.kill_points:
            break
    return tally


def check(tally: Tally) -> None:
    assert tally.kill_points > 0
    assert (tally.partial_outputs, tally.stale_after_rerun, tally.rerun_differences) == (0, 0, 0), tally.notes


@pytest.mark.parametrize("name", COMMANDS)
def test_kill_in_the_write_phase(name, inputs, references, tmp_path):
    """CI: one kill per command, while its output is being written over the previous one."""
    tally = campaign(name, inputs, references(name), tmp_path, trials=4, seed=COMMANDS.index(name),
                     at_write_only=True)
    check(tally)
    assert tally.killed_while_writing == 1


def record(campaign_name: str, command_name: str, result: dict) -> None:
    """Add one command's campaign result to bench/out/<campaign>.json."""
    out = ROOT / "bench" / "out" / f"{campaign_name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = json.loads(out.read_text()) if out.exists() else {}
    summary[command_name] = result
    out.write_text(json.dumps(summary, indent=2))
    print(command_name, json.dumps(result))


@pytest.mark.slow
@pytest.mark.parametrize("name", COMMANDS)
def test_kill_campaign(name, inputs, references, tmp_path):
    """The long campaign: 40 kill trials per command; recorded in bench/out/kill_campaign.json."""
    tally = campaign(name, inputs, references(name), tmp_path, trials=40, seed=7)
    record("kill_campaign", name, {k: v for k, v in vars(tally).items() if k != "notes"})
    check(tally)


# ----------------------------------------------------------------------------- disk full


@pytest.fixture(scope="module")
def small_tmpfs_allowed(tmp_path_factory):
    probe = tmp_path_factory.mktemp("probe")
    done = subprocess.run(["unshare", "-Urm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs in a private mount namespace here: {done.stderr.strip()}")


def run_on_full_disk(cmd: Command, size: int, previous: Path | None, record: Path) -> tuple[int, str, dict]:
    """Run `cmd` with its output directory on a tmpfs of `size` bytes (holding a copy of `previous`
    first, if given); return (exit code, stderr, {path in the tmpfs: sha256 or 'dir'})."""
    record.mkdir(parents=True, exist_ok=True)
    preload = f"cp -a {previous}/. {cmd.out}/ && " if previous else ""
    script = (f"mount -t tmpfs -o size={size} tmpfs {cmd.out} && {preload}"
              f"{{ {shlex.join(cmd.argv)} 2> {record}/stderr; echo $? > {record}/rc; }} && "
              f"cd {cmd.out} && find . -mindepth 1 -type d -printf 'dir %p\\n' > {record}/files && "
              f"find . -type f -exec sha256sum {{}} + >> {record}/files")
    done = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    entries = {}
    for line in (record / "files").read_text().splitlines():
        value, name = line.split(maxsplit=1)
        entries[name.removeprefix("./")] = value
    return int((record / "rc").read_text()), (record / "stderr").read_text(), entries


def check_disk_full(cmd: Command, ref: Reference, size: int, over_previous: bool, record: Path) -> bool:
    """Run on a `size`-byte tmpfs; True when the disk filled up (and everything checked out)."""
    code, err, entries = run_on_full_disk(cmd, size, ref.copy if over_previous else None, record)
    if code == 0:
        return False   # it fitted: nothing to check at this size
    assert code == cli.EXIT_INPUT, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 2, err
    assert lines[0].startswith("error: ") and "no space left on the device while writing it" in lines[0], err
    assert lines[1].startswith("  hint: free space"), err
    assert not [name for name in entries if name.rsplit("/", 1)[-1].startswith(".")], entries   # no temporaries
    previous = {}
    if over_previous:
        for path in ref.copy.rglob("*"):
            if path.is_file():
                previous[str(path.relative_to(ref.copy))] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                previous[str(path.relative_to(ref.copy))] = "dir"
    assert {k: v for k, v in entries.items() if v != "dir"} == {k: v for k, v in previous.items() if v != "dir"}
    return True


def output_bytes(ref: Reference) -> int:
    """Space the output takes on a tmpfs: whole 4 KiB pages per file, a page per directory."""
    return sum(-(-p.stat().st_size // 4096) * 4096 if p.is_file() else 4096 for p in ref.copy.rglob("*"))


@pytest.mark.parametrize("name", ["convert", "train"])
def test_disk_full(name, inputs, references, small_tmpfs_allowed, tmp_path):
    """CI, for a group of files (convert) and a directory (train): half the space the output needs,
    from no output and over the previous output. The slow campaign covers every command."""
    ref = references(name)
    cmd = command(name, inputs, tmp_path / "out")
    cmd.out.mkdir()
    need = output_bytes(ref)
    assert check_disk_full(cmd, ref, max(need // 2, 4096), False, tmp_path / "fresh")
    assert check_disk_full(cmd, ref, need + need // 2, True, tmp_path / "over")


@pytest.mark.slow
@pytest.mark.parametrize("name", COMMANDS)
def test_disk_full_campaign(name, inputs, references, small_tmpfs_allowed, tmp_path):
    """Every command at twelve sizes from 5% to 99% of what its output needs, from no output and
    over the previous one; recorded in bench/out/disk_full_campaign.json."""
    ref = references(name)
    cmd = command(name, inputs, tmp_path / "out")
    cmd.out.mkdir()
    need = output_bytes(ref)
    full = 0
    for i, fraction in enumerate((0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)):
        size = max(int(need * fraction), 4096)
        full += check_disk_full(cmd, ref, size, False, tmp_path / f"fresh{i}")
        full += check_disk_full(cmd, ref, need + size, True, tmp_path / f"over{i}")
    record("disk_full_campaign", name, {"runs": 24, "disk_full_errors": full, "output_bytes": need})


# ----------------------------------------------------------------------------- exit codes and signals


def test_internal_error_gives_exit_3_and_a_short_report(monkeypatch, capsys, tmp_path):
    def broken(args):
        raise RuntimeError("an invariant broke")

    monkeypatch.setattr(cli, "cmd_info", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert cli.main(["info", "whatever.parquet"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    first, second = err.strip().splitlines()
    assert first == "internal error (a bug in blazingaml): RuntimeError: an invariant broke"
    report = Path(second.removeprefix("  report: "))
    assert report.parent == tmp_path and report.name.startswith("blazingaml-crash-")
    text = report.read_text()
    assert "command: blazingaml info whatever.parquet" in text and "Traceback" in text
    assert "RuntimeError: an invariant broke" in text


def test_interrupt_exit_code(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_info", interrupted)
    assert cli.main(["info", "x.parquet"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == "interrupted"


def test_exit_codes_of_the_installed_command(tmp_path):
    assert subprocess.run(blazingaml("check", FAN)).returncode == cli.EXIT_OK
    done = subprocess.run(blazingaml("mine", "--input", tmp_path / "absent.parquet", "--patterns", FAN,
                                     "--output", tmp_path / "f.parquet"), capture_output=True, text=True)
    assert done.returncode == cli.EXIT_INPUT and "no such file" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(blazingaml("check", FAN, "--bogus"), capture_output=True, text=True)
    assert done.returncode == cli.EXIT_USAGE and "unrecognized arguments: --bogus" in done.stderr


def test_sigterm_cleans_up_and_exits_143(inputs, tmp_path):
    cmd = command("convert", inputs, tmp_path)
    for _ in range(5):   # the write phase is short: try again if the process finished first
        proc = subprocess.Popen(cmd.argv, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and not temporaries(tmp_path):
            time.sleep(0.0005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate()
            assert proc.returncode == cli.EXIT_TERMINATED and err.strip() == "terminated"
            assert temporaries(tmp_path) == [] and not (tmp_path / "tx.parquet").exists()
            return
        proc.communicate()
        clear(cmd)
    pytest.fail("convert always finished before it could be terminated")


def test_the_next_write_removes_temporaries_of_dead_writers_only(tmp_path):
    from blazingaml.io.atomic import write_text_atomic

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "tx.parquet"
    legacy = tmp_path / ".tx.parquet.k2x_9qab.tmp"            # the pid-less name of earlier versions
    of_dead = tmp_path / f".tx.parquet.{dead.pid}-0a1b2c3d.tmp"
    of_live = tmp_path / f".tx.parquet.{os.getppid()}-0a1b2c3d.tmp"
    other = tmp_path / f".tx.parquet.accounts.{dead.pid}-0a1b2c3d.tmp"   # another output's name
    dead_dir = tmp_path / f".tx.parquet.{dead.pid}-99aa88bb.old"
    for path in (legacy, of_dead, of_live, other):
        path.write_text("half")
    dead_dir.mkdir()
    (dead_dir / "booster.txt").write_text("half")
    write_text_atomic(target, "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, of_live.name, other.name])
    assert target.read_text() == "whole"


def test_a_replaced_directory_is_never_missing_or_mixed(tmp_path):
    """While a model directory is replaced again and again, a reader always finds it, and what it
    reads through one opening of it is one version: the swap is one renameat2 exchange, not a
    delete and a rename."""
    import threading

    from blazingaml.io.atomic import atomic_directory

    target = tmp_path / "model"
    seen, problems, done = set(), [], threading.Event()

    def read():
        while not done.is_set():
            try:
                fd = os.open(target, os.O_RDONLY)
            except FileNotFoundError:
                problems.append("missing")
                continue
            try:
                tags = {open(name, opener=lambda path, flags: os.open(path, flags, dir_fd=fd)).read()
                        for name in ("booster.txt", "model.json")}
                seen.update(tags)
                if len(tags) != 1:
                    problems.append(f"mixed {tags}")
            except FileNotFoundError:
                pass   # this reader held the previous version, removed once replaced
            finally:
                os.close(fd)

    with atomic_directory(target) as tmp:
        for name in ("booster.txt", "model.json"):
            (tmp / name).write_text("v0")
    reader = threading.Thread(target=read)
    reader.start()
    for version in range(1, 150):
        with atomic_directory(target, lambda d: {"booster.txt", "model.json"}) as tmp:
            for name in ("booster.txt", "model.json"):
                (tmp / name).write_text(f"v{version}")
    done.set()
    reader.join()
    assert problems == [] and len(seen) > 1 and temporaries(tmp_path) == []
