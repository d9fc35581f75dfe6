"""Time nbdiag.watch on a plain torch.nn training loop of the lesson's size: how much slower is a step?

The loop trains the lesson's MLP built from torch.nn modules (Embedding 27x10, five Linear(100)+Tanh,
Linear(27)) with SGD on minibatches of 32 names-examples. Four copies of it train side by side in this
process: plain; inside `nbdiag.watch`, recording every step; inside `nbdiag.watch(..., snapshots=SNAPSHOT_EVERY)`,
which also keeps the pictures' histograms every SNAPSHOT_EVERY steps (for the dashboard's step slider); and, for
reference, with TensorBoard's `SummaryWriter.add_histogram` of every weight and gradient at every step (needs
`pip install tensorboard`).
Their steps are interleaved, and each step's CPU time (time.process_time: on a shared machine, waiting
for a core does not count) is measured; a ratio is the median, over blocks of 32 rounds (watch computes
update:data once per 32 steps), of (time of the block's steps / time of the same rounds' plain steps). Run from the
repository root:

    NBDIAG_DATA_DIR=/work/shared/data python benchmarks/bench_watch.py [--steps 2000] [--threads 1]
        [--tensorboard-steps 192]

The last lines are the ratios.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's nbdiag, installed or not
from nbdiag import load_dataset  # noqa: E402
from nbdiag.watch import BATCH_STEPS, watch  # noqa: E402

TARGET = 1.5  # watch should make a step at most this many times slower
SNAPSHOT_EVERY = 10  # the snapshot schedule of the third copy
BLOCK = BATCH_STEPS  # ratios compare blocks of this many rounds: watch computes update:data once per block


def lesson_model(vocab_size, n_embd=10, n_hidden=100, depth=5, block_size=3):
    layers, fan_in = [nn.Embedding(vocab_size, n_embd), nn.Flatten()], n_embd * block_size
    for _ in range(depth):
        layers += [nn.Linear(fan_in, n_hidden), nn.Tanh()]
        fan_in = n_hidden
    return nn.Sequential(*layers, nn.Linear(fan_in, vocab_size))


class Trainer:
    """One copy of the model and its optimizer; `step(ix)` trains on one minibatch and returns the loss."""

    def __init__(self, dataset, seed=0):
        torch.manual_seed(seed)
        self.model = lesson_model(dataset.vocab_size)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.dataset = dataset

    def step(self, ix):
        loss = F.cross_entropy(self.model(self.dataset.Xtr[ix]), self.dataset.Ytr[ix])
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=2000, help="timed steps of plain and watched training (default 2000)"
    )
    parser.add_argument(
        "--tensorboard-steps",
        type=int,
        default=192,
        help="timed steps with tensorboard, which is far slower (default 192)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: at this size more threads add mostly synchronization)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    dataset = load_dataset()
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        SummaryWriter = None
        print("tensorboard is not installed (pip install tensorboard): its reference figure is left out")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.steps} interleaved steps")

    plain, watched, snapped, logged = Trainer(dataset), Trainer(dataset), Trainer(dataset), Trainer(dataset)
    g = torch.Generator().manual_seed(0)
    warmup = 50
    times = {"plain": [], "watch": [], "snapshots": [], "tensorboard": []}
    with (
        tempfile.TemporaryDirectory() as logdir,
        watch(watched.model, lr=0.1) as rec,
        watch(snapped.model, lr=0.1, snapshots=SNAPSHOT_EVERY, max_snapshots=10**6) as snapshots,
    ):
        writer = SummaryWriter(logdir) if SummaryWriter else None

        def plain_step(i, ix):
            plain.step(ix).item()

        def watch_step(i, ix):
            rec.step(watched.step(ix))

        def snapshots_step(i, ix):
            snapshots.step(snapped.step(ix))

        def tensorboard_step(i, ix):
            writer.add_scalar("loss", logged.step(ix).item(), i)
            for name, p in logged.model.named_parameters():
                writer.add_histogram(name, p, i)
                writer.add_histogram(f"{name}.grad", p.grad, i)

        for i in range(warmup + args.steps):
            ix = torch.randint(0, dataset.Xtr.shape[0], (32,), generator=g)
            variants = [("plain", plain_step), ("watch", watch_step), ("snapshots", snapshots_step)]
            if writer is not None and i < warmup + args.tensorboard_steps:
                variants.append(("tensorboard", tensorboard_step))
            for name, step in variants[i % len(variants) :] + variants[: i % len(variants)]:  # rotate who goes first
                start = time.process_time()
                step(i, ix)
                if i >= warmup:
                    times[name].append(time.process_time() - start)
        if writer is not None:
            writer.close()
    assert rec.steps_done == warmup + args.steps and rec.diverged_at is None
    assert len(snapshots.snapshots.kept) == len(range(0, warmup + args.steps, SNAPSHOT_EVERY))  # none thinned

    def ratio(name):  # the median over blocks of BLOCK rounds of (its time / the plain time in the same rounds)
        t, p = times[name], times["plain"]
        return statistics.median(
            sum(t[i : i + BLOCK]) / sum(p[i : i + BLOCK]) for i in range(0, len(t) - BLOCK + 1, BLOCK)
        )

    for name, t in times.items():
        if t:
            median, mean = statistics.median(t) * 1e6, statistics.fmean(t) * 1e6
            print(f"{name:>11}: median {median:9.1f} us/step, mean {mean:9.1f} over {len(t)} steps")
    if times["tensorboard"]:
        print(f"ratio tensorboard add_histogram / plain: {ratio('tensorboard'):.2f}x")
    print(f"ratio watch with snapshots every {SNAPSHOT_EVERY} steps / plain: {ratio('snapshots'):.2f}x")
    verdict = "meets" if ratio("watch") <= TARGET else "misses"
    print(f"ratio watch / plain: {ratio('watch'):.2f}x ({verdict} the {TARGET:g}x target)")


if __name__ == "__main__":
    main()
