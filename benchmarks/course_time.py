"""Time Run All of every lesson on one core, as Binder gives a student, with each kernel's peak memory.

Each lesson (notebooks/NN_name.ipynb, as stored) runs in a fresh kernel with nbclient, cell by cell as Run All
does, in a process pinned to one core (the kernel inherits the pin, and so does the client, as on Binder where the
server and the kernel share the one core). Per lesson it prints the wall time of Run All (kernel start not
included), the kernel's CPU time over the same cells, its peak resident memory (VmHWM, read from /proc at the end,
or the largest of psutil's samples where /proc has none), and the time spent drawing the still PNGs that every
dashboard's and gain sweep's output carries (nbdiag.still, timed in the kernel); then the total against the
targets. Run from anywhere:

    NBDIAG_DATA_DIR=/path/to/folder/with/names.txt python benchmarks/course_time.py [NAME ...] [--cells 15]

NAME is a lesson's file name, its stem or its number (12, 12_after_batchnorm); no NAME runs every lesson. With
`--cells N` it also prints the N slowest cells (wall and kernel CPU seconds, the still's share, the cell's first
line of code), to find what is slow. `--repeat R` runs each lesson R times and reports the medians (the machine may
be shared: CPU time is the steadier figure). The kernel imports this checkout's nbdiag (PYTHONPATH), with one
torch thread (OMP_NUM_THREADS=1, as the tests and the build run it, unless set).
"""

import argparse
import ast
import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSON_LIMIT_S, TOTAL_LIMIT_S = 25, 120

# Run silently in each kernel before the lesson (not a cell: no output, no history). It times nbdiag.still's PNGs:
# before each cell, once nbdiag.still is imported, its two drawing functions are wrapped; the time each cell spent
# in them is kept in _course_time_stills, one entry per cell run.
PRELUDE = """
def _course_time_setup():
    import sys, time
    stills, current = [], [0.0]

    def timed(function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                current[0] += time.perf_counter() - start
        wrapper._course_time = True
        return wrapper

    def pre_run_cell(info=None):
        current[0] = 0.0
        module = sys.modules.get("nbdiag.still")
        if module is not None:
            for name in ("png", "gain_sweep_png"):
                function = getattr(module, name, None)
                if function is not None and not getattr(function, "_course_time", False):
                    setattr(module, name, timed(function))

    def post_run_cell(result=None):
        stills.append(current[0])

    ip = get_ipython()
    ip.events.register("pre_run_cell", pre_run_cell)
    ip.events.register("post_run_cell", post_run_cell)
    return stills

_course_time_stills = _course_time_setup()
del _course_time_setup
"""


def lesson_paths(names, folder=NOTEBOOKS):
    """The stored lessons in `folder` named (a file name, its stem or its number), or all of them, in order."""
    lessons = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return lessons
    chosen = []
    for name in names:
        stem = Path(name).stem
        found = [p for p in lessons if p.stem == stem or p.stem.split("_")[0] == stem.zfill(2)]
        if not found:
            sys.exit(f"no lesson named {name}; choose from {', '.join(p.stem for p in lessons)}")
        chosen += found
    return chosen


def peak_mb(pid):
    """The process's peak resident memory so far (VmHWM), in MB, or None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Sampler(threading.Thread):
    """The largest resident memory of a process seen in samples every `interval` seconds (where VmHWM lacks)."""

    def __init__(self, pid, interval=0.1):
        super().__init__(daemon=True)
        self.process, self.interval, self.most, self.done = psutil.Process(pid), interval, 0, threading.Event()

    def run(self):
        while not self.done.is_set():
            try:
                self.most = max(self.most, self.process.memory_info().rss)
            except psutil.Error:
                return
            self.done.wait(self.interval)

    def stop(self):
        self.done.set()
        self.join()
        return self.most / 2**20


def first_line(source):
    """A cell's first line of code (skipping comments), shortened, to name it."""
    lines = [line.strip() for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    line = lines[0] if lines else source.strip().splitlines()[0] if source.strip() else ""
    return line if len(line) <= 70 else line[:67] + "..."


async def run_lesson(path, timeout):
    """Run one stored lesson in a fresh kernel: its Run All seconds, CPU seconds, peak MB and per-cell times."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        store_widget_state=False,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.reset_execution_trackers()
    async with client.async_setup_kernel(stderr=subprocess.DEVNULL):  # its errors come back as cell errors
        await client.kc.kernel_info(reply=True)
        pid = client.km.provisioner.pid
        kernel = psutil.Process(pid)
        quiet = dict(silent=True, store_history=False, output_hook=lambda msg: None, timeout=timeout)
        await client.kc.execute_interactive(PRELUDE, **quiet)
        sampler = Sampler(pid)
        sampler.start()
        cells = []  # (index, wall s, CPU s)
        cpu_start, start = sum(kernel.cpu_times()[:2]), time.perf_counter()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            cell_cpu, cell_start = sum(kernel.cpu_times()[:2]), time.perf_counter()
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            cells.append((index, time.perf_counter() - cell_start, sum(kernel.cpu_times()[:2]) - cell_cpu))
        wall, cpu = time.perf_counter() - start, sum(kernel.cpu_times()[:2]) - cpu_start
        reply = await client.kc.execute_interactive("", user_expressions={"stills": "_course_time_stills"}, **quiet)
        hwm, sampled = peak_mb(pid), sampler.stop()
    stills = reply["content"]["user_expressions"]["stills"]
    stills = ast.literal_eval(stills["data"]["text/plain"]) if stills.get("status") == "ok" else []  # floats
    stills = (stills + [0.0] * len(cells))[: len(cells)]
    per_cell = [
        dict(lesson=path.stem, index=index, wall=w, cpu=c, still=s, line=first_line(nb.cells[index].source))
        for (index, w, c), s in zip(cells, stills)
    ]
    return dict(wall=wall, cpu=cpu, peak=hwm if hwm is not None else sampled, still=sum(stills), cells=per_cell)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="lessons to run (default: all)")
    parser.add_argument("--cells", type=int, default=0, metavar="N", help="also print the N slowest cells")
    parser.add_argument("--repeat", type=int, default=1, metavar="R", help="runs per lesson; medians are reported")
    parser.add_argument("--core", type=int, default=0, help="the core to pin to (default 0, as taskset -c 0)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may take")
    parser.add_argument(
        "--notebooks", type=Path, default=NOTEBOOKS, metavar="DIR", help="where the lessons are (default: notebooks/)"
    )
    args = parser.parse_args(argv)
    if not os.environ.get("NBDIAG_DATA_DIR"):
        sys.exit("set NBDIAG_DATA_DIR to a folder holding names.txt")
    os.environ["NBDIAG_DATA_DIR"] = str(Path(os.environ["NBDIAG_DATA_DIR"]).resolve())  # kernels run in notebooks/
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    os.sched_setaffinity(0, {args.core})  # this process and every kernel it starts: one core
    paths = lesson_paths(args.names, args.notebooks.resolve())
    print(
        f"Run All of {len(paths)} lesson(s), each in a fresh kernel, on core {args.core} only "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores), median of {args.repeat}",
        flush=True,
    )
    print(f"{'lesson':<24} {'Run All s':>9} {'CPU s':>7} {'stills s':>8} {'peak MB':>8}", flush=True)
    results = {}
    for path in paths:
        runs = [asyncio.run(run_lesson(path, args.timeout)) for _ in range(args.repeat)]
        median = {key: statistics.median(run[key] for run in runs) for key in ("wall", "cpu", "peak", "still")}
        median["cells"] = [
            dict(
                cell,
                **{key: statistics.median(run["cells"][i][key] for run in runs) for key in ("wall", "cpu", "still")},
            )
            for i, cell in enumerate(runs[0]["cells"])
        ]
        results[path.stem] = median
        flag = "  over the target" if median["wall"] > LESSON_LIMIT_S else ""
        print(
            f"{path.stem:<24} {median['wall']:9.1f} {median['cpu']:7.1f} {median['still']:8.1f} "
            f"{median['peak']:8.0f}{flag}",
            flush=True,
        )
    total = {key: sum(r[key] for r in results.values()) for key in ("wall", "cpu", "still")}
    print(
        f"{'total':<24} {total['wall']:9.1f} {total['cpu']:7.1f} {total['still']:8.1f} "
        f"{max(r['peak'] for r in results.values()):8.0f} (largest)"
    )
    slowest = max(results, key=lambda name: results[name]["wall"])
    print(
        f"targets: every lesson <= {LESSON_LIMIT_S} s (slowest: {slowest}, {results[slowest]['wall']:.1f} s), "
        f"the course <= {TOTAL_LIMIT_S} s (this run: {total['wall']:.1f} s)"
    )
    if args.cells:
        cells = sorted((c for r in results.values() for c in r["cells"]), key=lambda c: -c["wall"])[: args.cells]
        print(f"\nthe {len(cells)} slowest cells (wall s, kernel CPU s, of which still PNGs s):")
        for c in cells:
            print(
                f"{c['lesson']:<24} cell {c['index']:>3} {c['wall']:6.1f} {c['cpu']:6.1f} {c['still']:5.1f}  {c['line']}"
            )
    over = total["wall"] > TOTAL_LIMIT_S or results[slowest]["wall"] > LESSON_LIMIT_S
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
