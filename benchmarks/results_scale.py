"""How the results commands scale with the trials: experiments of 1,000 and 10,000 trials made
by copying a real search's trials under new ids, and for each the seconds and peak memory of
``tune-cifar best``, ``analyze`` and ``compare``, the Optuna journal rebuilt from Tune's files,
and the dashboard's first answer about the study (its trials, as the page asks for them).

    tune-cifar search --space SPACE --data synthetic --num-samples 20 --max-epochs 4 \\
        --grace-period 1 --reduction-factor 2 --storage-path bench-out/scale --name src
    python benchmarks/results_scale.py --source bench-out/scale/src --sizes 1000,10000
    python benchmarks/results_scale.py --smoke-test     # seconds, for CI

Each command runs as a process of its own (its peak resident memory is the kernel's count for
it, from ``os.wait4``), one after another, on experiments kept under ``--work`` (a second
sitting reuses the copies). The copies share their checkpoints with the source through hard
links, and have no journal of their own (the journal row rebuilds it). Writes
``OUT/results_scale.json`` and prints a table: seconds per command and size, seconds per
1,000 trials (linear growth keeps it flat), and peak memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tune_cifar.constants import JOURNAL_FILE, PROGRESS_FILE, RESULT_FILE, SPEC_FILE, TRIAL_PREFIX
from tune_cifar.data import DataSpec
from tune_cifar.hardware import describe_hardware
from tune_cifar.tuning import SearchOptions

COPIED_TEXT = (RESULT_FILE, PROGRESS_FILE, "params.json", "error.txt", "stopped.json")


def copy_experiment(source: Path, target: Path, trials: int) -> Path:
    """``trials`` trials made from the source's, round robin, each under a new id (its folder,
    and the id inside its text files); checkpoints and other files hard-linked."""
    sources = sorted(p for p in source.iterdir() if p.name.startswith(TRIAL_PREFIX))
    if (
        target.is_dir()
        and sum(1 for p in target.iterdir() if p.name.startswith(TRIAL_PREFIX)) == trials
    ):
        return target  # made by an earlier sitting
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy2(source / SPEC_FILE, target / SPEC_FILE)
    for i in range(trials):
        original = sources[i % len(sources)]
        old_id = original.name.removeprefix(TRIAL_PREFIX)
        new_id = f"c{i // len(sources):05d}{old_id[-6:]}"
        folder = target / f"{TRIAL_PREFIX}{new_id}"
        for path in original.rglob("*"):
            relative = folder / path.relative_to(original)
            if path.is_dir():
                relative.mkdir(parents=True, exist_ok=True)
            elif path.name in COPIED_TEXT:
                relative.parent.mkdir(parents=True, exist_ok=True)
                relative.write_text(path.read_text().replace(old_id, new_id))
            elif path.suffix != ".pkl":  # Tune's pickles: nothing reads them here
                relative.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, relative)
    return target


def run(command: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Seconds and peak resident memory (MiB) of one command, run to its end."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode()[-500:]}")
    return {"s": seconds, "peak_mib": usage.ru_maxrss / 1024}


def dashboard_answer(experiment: Path, shots: Path | None) -> dict[str, float]:
    """Seconds from starting ``tune-cifar dashboard`` to its answer about the study's trials
    (what the study page loads), and the server's peak memory then; where Playwright and
    Chromium are installed and ``shots`` is given, also the seconds headless Chromium takes to
    show the study's trials page, with a screenshot of it in ``shots``."""
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "tune_cifar.cli", "dashboard", str(experiment), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "http://" in line:
                base = line.split("http://", 1)[1].split("/dashboard/")[0]
                break
        else:
            raise RuntimeError("the dashboard never said where it listens")
        with urllib.request.urlopen(f"http://{base}/api/studies", timeout=600) as answer:
            study_id = json.load(answer)["study_summaries"][0]["study_id"]
        with urllib.request.urlopen(f"http://{base}/api/studies/{study_id}", timeout=600) as a:
            trials = len(json.load(a)["trials"])
        out = {"s": time.monotonic() - start, "trials_answered": trials}
        if shots is not None:
            out.update(browser_page(f"http://{base}/dashboard/studies/{study_id}/trials", shots))
        with open(f"/proc/{process.pid}/status") as status:
            peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {**out, "peak_mib": peak / 1024}


def browser_page(url: str, shots: Path) -> dict[str, float]:
    """Seconds until headless Chromium shows the trials page's count of trials ("N Trials"),
    and a screenshot of the page then; nothing where Playwright or Chromium is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {}
    if chromium is None:
        return {}
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.monotonic()
        page.goto(url, timeout=600_000)
        # (the page says "0 Trials" until the study's answer arrives)
        page.get_by_text(re.compile(r"^[1-9][\d,]* Trials$")).first.wait_for(timeout=600_000)
        seconds = time.monotonic() - start
        page.screenshot(path=str(shots / "dashboard_trials.png"))
        browser.close()
    return {"browser_trials_page_s": seconds}


def measure(
    experiment: Path, source: Path, work: Path, shots: Path | None
) -> dict[str, dict[str, float]]:
    cli = [sys.executable, "-m", "tune_cifar.cli"]
    (experiment / JOURNAL_FILE).unlink(missing_ok=True)
    out = {
        "best": run([*cli, "best", str(experiment), "--json"]),
        "analyze": run([*cli, "analyze", str(experiment), "--out", str(work / "analysis")]),
        "compare": run(
            [*cli, "compare", str(experiment), str(source), "--out", str(work / "compare")]
        ),
        "journal": run(
            [
                sys.executable,
                "-c",
                "import sys\nfrom tune_cifar.results import "
                "build_journal\nbuild_journal(sys.argv[1])",
                str(experiment),
            ]
        ),
    }
    out["dashboard"] = dashboard_answer(experiment, shots)
    return out


def smoke_source(folder: Path) -> Path:
    """A tiny experiment written as Tune writes one (no Ray): 4 trials, 3 epochs."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    spec = {
        "options": dataclasses.asdict(
            SearchOptions(max_epochs=3, grace_period=1, reduction_factor=2)
        ),
        "data": dataclasses.asdict(DataSpec(source="synthetic")),
        "space": {
            "name": "smoke",
            "source": "smoke",
            "description": "smoke",
            "summary": "lr, batch_size",
        },
        "created": "now",
    }
    (folder / SPEC_FILE).write_text(json.dumps(spec))
    for t in range(4):
        trial = folder / f"{TRIAL_PREFIX}abcde_{t:05d}"
        trial.mkdir()
        lines = []
        for epoch in range(1, 4):
            name = f"checkpoint_{epoch - 1:06d}"
            (trial / name).mkdir()
            (trial / name / "state.pt").write_bytes(b"")
            lines.append(
                json.dumps(
                    {
                        "trial_id": f"abcde_{t:05d}",
                        "training_iteration": epoch,
                        "epoch": epoch,
                        "val_acc": 0.1 * epoch + 0.01 * t,
                        "train_loss": 1.0,
                        "train_acc": 0.5,
                        "val_loss": 1.0,
                        "time_total_s": float(epoch),
                        "timestamp": epoch,
                        "checkpoint_dir_name": name,
                        "done": epoch == 3,
                        "config": {"lr": 10 ** -(t + 1), "batch_size": 32},
                    }
                )
            )
        (trial / RESULT_FILE).write_text("\n".join(lines) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a real search's experiment to copy")
    parser.add_argument("--sizes", default="1000,10000", help="trials per copy, comma-separated")
    parser.add_argument("--work", type=Path, default=Path("bench-out/results_scale"))
    parser.add_argument("--out", type=Path, default=Path("bench-out/results_scale"))
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="a hand-written 4-trial source copied to 20 and 40 trials",
    )
    args = parser.parse_args()
    if args.smoke_test:
        shutil.rmtree(args.work, ignore_errors=True)
        args.source = smoke_source(args.work / "smoke-source")
        args.sizes = "20,40"
    if args.source is None or not (args.source / SPEC_FILE).is_file():
        parser.error("--source must be an experiment folder (one with its spec file)")
    sizes = [int(s) for s in args.sizes.split(",")]
    # (the machine is named after the measurements: describing it imports torch, and a child
    # forked from a large process counts its pages in its peak memory)
    results: dict[str, Any] = {"source": str(args.source), "sizes": {}}
    for size in sizes:
        experiment = copy_experiment(args.source, args.work / f"trials-{size}", size)
        shots = None if args.smoke_test else args.out / f"dashboard-{size}"
        results["sizes"][size] = measure(experiment, args.source, args.work / f"out-{size}", shots)
        print(
            f"{size} trials: "
            + ", ".join(
                f"{k} {v['s']:.1f} s ({v['peak_mib']:.0f} MiB)"
                for k, v in results["sizes"][size].items()
            ),
            flush=True,
        )
        if "browser_trials_page_s" in results["sizes"][size]["dashboard"]:
            page_s = results["sizes"][size]["dashboard"]["browser_trials_page_s"]
            print(f"  headless Chromium: the trials page in {page_s:.1f} s ({shots})")
    results["hardware"] = describe_hardware()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results_scale.json").write_text(json.dumps(results, indent=1) + "\n")
    print(results["hardware"])
    print(
        "| command | " + " | ".join(f"{s} trials: s (s per 1,000), peak MiB" for s in sizes) + " |"
    )
    print("|---|" + "---|" * len(sizes))
    for command in results["sizes"][sizes[0]]:
        cells = [
            f"{results['sizes'][s][command]['s']:.1f} "
            f"({1000 * results['sizes'][s][command]['s'] / s:.2f}), "
            f"{results['sizes'][s][command]['peak_mib']:.0f}"
            for s in sizes
        ]
        print(f"| {command} | " + " | ".join(cells) + " |")
    print(f"wrote {args.out / 'results_scale.json'}")


if __name__ == "__main__":
    main()
