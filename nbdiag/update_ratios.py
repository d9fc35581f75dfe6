"""update:data from the change an optimizer really made: each step's parameters copied into a buffer, and the
ratios of a batch of steps computed at once (for nbdiag.watch, where any optimizer may have made the step)."""

import functools

import torch

BATCH_STEPS = 32  # update:data of up to this many steps are computed together (a few big operations, not many small)
COPY_NUMBERS = 2**22  # ... as long as their parameter copies hold at most this many numbers (16 MB in float32)


class UpdateRatios:
    """log10 update:data of every parameter at every step: std(the change the optimizer really made) / std(param).

    Each step copies the parameters, flattened and grouped by size, into a row of a buffer; the ratios of a batch
    of up to BATCH_STEPS steps are then computed at once, so a step costs one copy, not dozens of small reductions.
    """

    def __init__(self, params):
        self.params = params
        device = params[0].device
        dtype = functools.reduce(torch.promote_types, [p.dtype for p in params], torch.float32)
        self._ratios = torch.empty(64, len(params), dtype=dtype, device=device)  # grows by doubling
        self._done = 0  # steps whose ratios are in self._ratios[:_done]
        order = sorted(range(len(params)), key=lambda i: params[i].numel())  # stable
        self._order = torch.tensor(order, dtype=torch.long, device=device)
        self._ordered = [params[i] for i in order]
        self._views, self._addresses = None, None  # flat views of self._ordered, and where their data was
        sizes = [params[i].numel() for i in order]
        self._groups, start = [], 0  # (start, count, numel) of each run of equal sizes in a row
        for n in sorted(set(sizes)):
            k = sizes.count(n)
            self._groups.append((start, k, n))
            start += k * n
        self._batch = max(1, min(BATCH_STEPS, COPY_NUMBERS // start - 1))
        # row 0: the parameters before the first step not yet computed; row j: after the j-th such step
        self._copies = torch.empty(self._batch + 1, start, dtype=dtype, device=device)
        self._pending = 0  # steps copied but not computed

    def start(self):
        """Copy the parameters as they are before the first step."""
        self._flatten(self._copies[0])

    def step(self):
        """Copy the parameters after a step's update; False if that was the first step and it changed nothing."""
        self._pending += 1
        self._flatten(self._copies[self._pending])
        unchanged = self._done == 0 and self._pending == 1 and torch.equal(self._copies[0], self._copies[1])
        if self._pending == self._batch:
            self._compute()
        return not unchanged

    def ratios(self):
        """(steps, n_params) on the CPU, in float32."""
        self._compute()
        return self._ratios[: self._done].float().cpu().clone()

    def latest(self):
        """Each parameter's value as the last step left it, in the model's order (views into the buffer)."""
        data, start, latest = [None] * len(self.params), 0, self._copies[self._pending]
        for i in self._order.tolist():
            p = self.params[i]
            data[i] = latest[start : start + p.numel()].view(p.shape)
            start += p.numel()
        return data

    def _flatten(self, out):
        """Write the parameters' values into `out` (total numel,), one after another in self._order."""
        # flat views made once (making a dozen views costs more than copying the lesson's MLP), made again
        # if a parameter's data moved (p.data = ..., as torch.nn.utils.vector_to_parameters does)
        addresses = [p.data_ptr() for p in self._ordered]
        if addresses != self._addresses:
            self._addresses = addresses
            contiguous = all(p.is_contiguous() for p in self._ordered)  # else reshape copies: no view to keep
            self._views = [p.detach().view(-1) for p in self._ordered] if contiguous else None
        if self._views is None:
            with torch.no_grad():
                return torch.cat([p.reshape(-1) for p in self._ordered], out=out)
        return torch.cat(self._views, out=out)

    def _compute(self):
        """The ratios of the steps whose copies wait in the buffer."""
        m = self._pending
        if m == 0:
            return
        with torch.no_grad():
            after = self._copies[1 : m + 1]  # (m, numel) the parameters after each step
            change = after - self._copies[:m]  # what the optimizer really did
            # log10(std(change) / std(param after the update)), as the lesson defines update:data; both stds
            # divide by the same sqrt(numel - 1), so the norms of the deviations from the mean give the ratio
            dev = [
                torch.cat([_deviation(x[:, s : s + k * n].view(m, k, n)) for s, k, n in self._groups], dim=1)
                for x in (change, after)
            ]  # 2 x (m, n_params) in self._order
            while self._done + m > len(self._ratios):
                self._ratios = torch.cat([self._ratios, torch.empty_like(self._ratios)])
            self._ratios[self._done : self._done + m, self._order] = (dev[0] / dev[1]).log10()  # one element: 0/0 = NaN
            self._copies[0].copy_(self._copies[m])
        self._done, self._pending = self._done + m, 0


def _deviation(x):
    """(m, k, n) -> (m, k): the norm of each row's deviations from its mean, i.e. std * sqrt(n - 1)."""
    return torch.linalg.vector_norm(x - x.mean(-1, keepdim=True), dim=-1)
