"""Time nbdiag's instrumented training against a bare loop of the same layers: what do its diagnostics cost?

The headline is nbdiag's `train`, with every record the diagnostics read, over a bare loop of the same model (the
same build_model, generator draws and updates, nothing recorded: no layer-output gradients kept, no update:data, no
.item() per step, no copy of the parameters), without and with batchnorm. Both run in this process, alternated,
under the one thread `train` runs on by design (train.one_thread). The target is TARGET. Run:

    NBDIAG_DATA_DIR=/work/shared/data python benchmarks/bench_training.py [--steps 2000] [--repeats 5]

It times the nbdiag first on sys.path: `--repo DIR`'s, else PYTHONPATH's if it names one, else this checkout's
(so `PYTHONPATH=/other/checkout python benchmarks/bench_training.py` times the other checkout's train).

Then, unless `--no-plain`, it also times the lecture's loop that tracks update:data with .item() every step
(`--threads 1` makes that loop single-threaded too; it starts from torch's default, as a student's kernel has it)
and prints how many times faster nbdiag is. Times are wall-clock seconds; a ratio is the median of the ratios of
runs timed one after the other (who goes first alternates), so drifts in the machine's load hit both.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def _checkout(argv):
    """The directory to import nbdiag from: --repo's, else None when PYTHONPATH names one, else this checkout."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--repo")
    repo = parser.parse_known_args(argv)[0].repo
    if repo is not None:
        return repo
    return None if os.environ.get("PYTHONPATH") else str(Path(__file__).resolve().parents[1])


if (_repo := _checkout(sys.argv[1:])) is not None:  # before importing nbdiag: the checkout's, installed or not
    sys.path.insert(0, _repo)

import nbdiag  # noqa: E402
from nbdiag import load_dataset  # noqa: E402
from nbdiag.config import Config  # noqa: E402
from nbdiag.train import build_model, one_thread, train  # noqa: E402

TARGET = 1.1  # nbdiag's train should take at most this many times the bare loop's time
PLAIN_TARGET = 2.0  # and be at least this many times faster than the lecture's loop that tracks update:data


def bare_loop(config, dataset):
    """The lecture's loop on the same model with nothing recorded: what training costs without diagnostics."""
    g = torch.Generator().manual_seed(config.seed)
    model = build_model(config, dataset.vocab_size, g)  # draws C, then each Linear's weight, like train
    parameters, lr = model.parameters(), config.lr
    for _ in range(config.steps):
        ix = torch.randint(0, dataset.Xtr.shape[0], (config.batch_size,), generator=g)  # the same minibatch draws
        loss = F.cross_entropy(model(dataset.Xtr[ix]), dataset.Ytr[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -lr * p.grad
    return loss, parameters


def bare_one_thread(config, dataset):
    """bare_loop under the thread setting train runs under, for a fair ratio."""
    with one_thread():
        return bare_loop(config, dataset)


def plain_loop(config, dataset):
    """The lecture's training loop (makemore part 3), written the obvious way, on the same model."""
    g = torch.Generator().manual_seed(config.seed)
    model = build_model(config, dataset.vocab_size, g)  # draws C, then each Linear's weight, like the lecture
    C, layers, parameters = model.C, model.layers, model.parameters()
    Xtr, Ytr, lr = dataset.Xtr, dataset.Ytr, config.lr
    lossi, ud = [], []
    for i in range(config.steps):
        # minibatch
        ix = torch.randint(0, Xtr.shape[0], (config.batch_size,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]
        # forward pass
        emb = C[Xb]  # (B, block_size, n_embd)
        x = emb.view(emb.shape[0], -1)  # (B, block_size * n_embd)
        for layer in layers:
            x = layer(x)
        loss = F.cross_entropy(x, Yb)
        # backward pass
        for layer in layers:
            layer.out.retain_grad()  # the lecture keeps every layer's output gradient, every step
        for p in parameters:
            p.grad = None
        loss.backward()
        # update
        for p in parameters:
            p.data += -lr * p.grad
        # track stats
        lossi.append(loss.log10().item())
        with torch.no_grad():
            ud.append([((lr * p.grad).std() / p.data.std()).log10().item() for p in parameters])
    return lossi, ud, parameters


def nbdiag_loop(config, dataset):
    return train(config, dataset, progress=False)


def check_bare(config, dataset):
    """Run the bare loop and train once; return the ways their numbers differ (empty when identical)."""
    loss, parameters = bare_one_thread(config, dataset)
    run = nbdiag_loop(config, dataset)
    problems = []
    if run.diverged_at is not None:
        problems.append(f"nbdiag diverged at step {run.diverged_at}")
    if not torch.equal(run.losses[-1], loss.detach()):
        problems.append("last losses differ")
    if len(run.params) != len(parameters) or not all(
        torch.equal(record.data, p.detach()) for record, p in zip(run.params, parameters)
    ):
        problems.append("final parameters differ")
    return problems


def check_plain(config, dataset):
    """Run the lecture's loop and train once; return the ways their numbers differ (empty when identical)."""
    lossi, ud, parameters = plain_loop(config, dataset)
    run = nbdiag_loop(config, dataset)
    problems = []
    if run.diverged_at is not None:
        problems.append(f"nbdiag diverged at step {run.diverged_at}")
    # the lecture stores log10(loss) as a Python float; log10 each loss alone, as the lecture does
    nb_lossi = torch.tensor([loss.log10().item() for loss in run.losses], dtype=torch.float64)
    if not torch.equal(nb_lossi, torch.tensor(lossi, dtype=torch.float64)):
        problems.append("losses differ")
    if not torch.equal(run.update_ratios.double(), torch.tensor(ud, dtype=torch.float64)):
        problems.append("update:data ratios differ")
    if len(run.params) != len(parameters) or not all(
        torch.equal(record.data, p.detach()) for record, p in zip(run.params, parameters)
    ):
        problems.append("final parameters differ")
    return problems


def timed(loop, config, dataset):
    """Wall-clock seconds one run of `loop` takes."""
    start = time.perf_counter()
    loop(config, dataset)
    return time.perf_counter() - start


def alternated(loops, config, dataset, repeats):
    """{label: [seconds per run]}: each loop timed `repeats` times, one after the other, who goes first alternating."""
    times = {label: [] for label in loops}
    order = list(loops.items())
    for r in range(repeats):
        for label, loop in order if r % 2 == 0 else order[::-1]:
            times[label].append(timed(loop, config, dataset))
    return times


def paired_ratio(numerator, denominator):
    """The median of the ratios of runs timed one after the other."""
    return statistics.median(n / d for n, d in zip(numerator, denominator))


def shown(times):
    """'median s (every run's s)'."""
    return f"{statistics.median(times):.3f}s ({' '.join(f'{t:.3f}' for t in times)})"


def compare(name, config, dataset, repeats, check, loops):
    """Check that the loops give train's numbers, time them alternated; their times."""
    problems = check(config, dataset)  # also warms both loops up
    if problems:
        raise SystemExit(f"{name}: the numbers are NOT identical: {'; '.join(problems)}")
    times = alternated(loops, config, dataset, repeats)
    print(f"  {name}: " + ", ".join(f"{label} {shown(t)}" for label, t in times.items()))
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps per run (default 2000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each loop; the median counts (default 5)")
    parser.add_argument("--repo", help="the nbdiag checkout to time (default: PYTHONPATH's, else this one)")
    parser.add_argument("--no-plain", action="store_true", help="skip the comparison with the lecture's loop")
    parser.add_argument(
        "--threads", type=int, default=None, help="the lecture's loop's torch threads (default: torch's)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset()
    print(f"nbdiag from {Path(nbdiag.__file__).parent}")
    print(f"torch {torch.__version__}, {args.steps} steps, {args.repeats} alternating runs of each loop")
    configs = {
        name: Config(batchnorm=batchnorm, steps=args.steps)
        for name, batchnorm in [("no batchnorm", False), ("batchnorm", True)]
    }

    print("bare loop (same model, draws and updates, nothing recorded; one thread, as train) vs nbdiag's train:")
    bare = {}
    for name, config in configs.items():
        times = compare(
            name, config, dataset, args.repeats, check_bare, {"bare": bare_one_thread, "nbdiag": nbdiag_loop}
        )
        bare[name] = paired_ratio(times["nbdiag"], times["bare"])
    plain = {}
    if not args.no_plain:
        print(f"lecture's loop tracking update:data ({torch.get_num_threads()} threads) vs nbdiag's train:")
        for name, config in configs.items():
            times = compare(
                name, config, dataset, args.repeats, check_plain, {"plain": plain_loop, "nbdiag": nbdiag_loop}
            )
            plain[name] = paired_ratio(times["plain"], times["nbdiag"])
    for name, ratio in plain.items():
        verdict = "meets" if ratio >= PLAIN_TARGET else "misses"
        print(
            f"{name}: nbdiag is {ratio:.2f}x faster than the lecture's tracking loop ({verdict} its {PLAIN_TARGET:g}x target)"
        )
    for name, ratio in bare.items():
        verdict = "meets" if ratio <= TARGET else "misses"
        print(f"{name}: nbdiag / bare loop: {ratio:.2f}x (target ≤ {TARGET:g}x: {verdict} it)")


if __name__ == "__main__":
    main()
