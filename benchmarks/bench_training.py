"""Time nbdiag's instrumented training against the lecture's plain loop: same numbers, how much faster?

Both record the update:data ratio of every parameter at every step. Run:

    NBDIAG_DATA_DIR=/work/shared/data python benchmarks/bench_training.py [--steps 2000] [--repeats 5] [--threads 1]

Times are wall-clock seconds, the median of alternating runs. Both loops start from torch's default thread
count, as a student's kernel has it (`--threads 1` makes the plain loop single-threaded too); nbdiag's `train`
runs on one thread by design. The last lines are the ratios (plain time / nbdiag time), without and with
batchnorm.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's nbdiag, installed or not
from nbdiag import load_dataset  # noqa: E402
from nbdiag.config import Config  # noqa: E402
from nbdiag.train import build_model, train  # noqa: E402

TARGET = 2.0  # nbdiag should be at least this many times faster than the plain loop


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


def check_identical(config, dataset):
    """Run both once; return a list of the ways their numbers differ (empty when identical)."""
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps per run (default 2000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each loop; the median counts (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's own)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} steps, "
        f"median wall time of {args.repeats} alternating runs"
    )
    ratios = {}
    for name, batchnorm in [("no batchnorm", False), ("batchnorm", True)]:
        config = Config(batchnorm=batchnorm, steps=args.steps)
        problems = check_identical(config, dataset)  # also warms both loops up
        if problems:
            raise SystemExit(f"{name}: the numbers are NOT identical: {'; '.join(problems)}")
        print(
            f"{name}: identical numbers (log10 losses per step, update:data per step and parameter, final parameters)"
        )
        times = {"plain": [], "nbdiag": []}
        for r in range(args.repeats):  # alternate, and swap who goes first, so drifts in machine load hit both
            order = [("plain", plain_loop), ("nbdiag", nbdiag_loop)]
            for label, loop in order if r % 2 == 0 else order[::-1]:
                times[label].append(timed(loop, config, dataset))
        plain, nb = statistics.median(times["plain"]), statistics.median(times["nbdiag"])
        print(
            f"{name}: plain {plain:.3f}s ({' '.join(f'{t:.3f}' for t in times['plain'])}), "
            f"nbdiag {nb:.3f}s ({' '.join(f'{t:.3f}' for t in times['nbdiag'])})"
        )
        ratios[name] = plain / nb
    for name, ratio in ratios.items():
        verdict = "meets" if ratio >= TARGET else "misses"
        print(f"ratio {name}: nbdiag is {ratio:.2f}x faster than the plain loop ({verdict} the {TARGET:g}x target)")


if __name__ == "__main__":
    main()
