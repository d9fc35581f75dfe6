# %% [markdown]
# # Lesson 6 · Weight gradients and the grad:data ratio
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 5](05_no_tanh.ipynb) · next: [lesson 7, update:data](07_update_ratios.ipynb)*
#
# Training changes the *parameters*, not the activations. So look at them directly: each weight
# matrix, its gradient, and how big the gradient is **compared with the weights themselves**:
#
# > **grad:data = std(gradient) / std(weights)**
#
# SGD changes a weight by the learning rate times its gradient, so a gradient that is large relative to
# its weights means those weights will change a lot relative to their size. We look at the 2-D
# parameters only: the embedding table C and the six Linear weights (biases are left out).
# The network is lesson 1's, gain 5/3, after its first step.

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()
run = train(Config(gain=5/3), data)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_weight_gradients(stats.weight_grad_histograms(run))

# %% [markdown]
# The labels give each parameter's position in the parameter list and its shape: 0 is C (27 × 10),
# 1 the first Linear (30 × 100), 3 to 9 the hidden 100 × 100 layers, 11 the output layer (100 × 27).
#
# **Predict, then reveal.** One curve is far wider than the others. Which parameter is it? Guess its
# grad:data ratio, given that the others are around 0.001 to 0.01.

# %% tags=["reveal"]
print("# weight gradients after 1 step")
print(stats.format_weight_table(stats.weight_grad_stats(run)))

# %% [markdown]
# **What the numbers say.** For C and the first five Linear weights the gradient's std is around
# 1e-3, between a thousandth and a hundredth of the weights' std. The output layer, (100, 27), is the
# wide curve: its gradient's std is about twenty times bigger, and its grad:data ratio is **2.3**,
# the gradient is larger than the weights themselves.
#
# Both halves of that ratio come from one choice at initialization: the output layer's weights were
# multiplied by 0.1, so that the first predictions are unsure rather than confidently wrong.
#
# - Its *weights* are therefore ten times smaller than they would otherwise be: a small denominator.
# - Its *gradient* is not small at all: it sits right next to the loss, so nothing shrinks the signal
#   before it arrives. Every other layer gets its gradient *through* those shrunken output weights,
#   which is part of why theirs are small.
#
# With plain SGD and one learning rate for everything, the output layer would therefore start out
# learning hundreds of times faster, relative to its size, than the rest of the network.

# %% [markdown]
# ## After a thousand steps
#
# Does this imbalance last? Train the same network for 1001 steps (a few seconds) and look again.

# %%
# NBVAL_IGNORE_OUTPUT
trained = train(Config(gain=5/3, steps=1001), data)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_weight_gradients(stats.weight_grad_histograms(trained))

# %% [markdown]
# **Predict, then reveal.** Will the output layer's ratio have gone up or down? And the others?

# %% tags=["reveal"]
print("# weight gradients after 1001 steps")
print(stats.format_weight_table(stats.weight_grad_stats(trained)))
print(trained.status)

# %% [markdown]
# **What the numbers say.** The output layer's ratio fell from 2.3 to about 0.3, while every other
# layer's rose to between 0.01 and 0.05 as the loss started to push on them. The gap shrank from a
# factor of several hundred to one between 6 and 25. In the picture, the output layer's curve is now only
# two or three times wider than the rest, not twenty.
#
# Training repaired most of the imbalance by itself: the output weights grew quickly (they were the
# ones moving fastest), which both raised the denominator and let more gradient through to the layers
# below. The last layer still stands out, though. Optimizers such as Adam, which scale each parameter's
# step by its own gradient history, and batch normalization (lesson 8) handle this far better than plain SGD.

# %% tags=["check"]
# The claims above, checked wherever this notebook runs: after many steps the last digits are the CPU's
trained_stats = stats.weight_grad_stats(trained)
ratios = [s.grad_data_ratio for s in trained_stats]
assert 0.25 < ratios[-1] < 0.35 and all(0.01 < r < 0.05 for r in ratios[:-1]), ratios
assert 6 < ratios[-1] / max(ratios[:-1]) and ratios[-1] / min(ratios[:-1]) < 25, ratios
widths = sorted(s.std for s in trained_stats[:-1])
assert 2 < trained_stats[-1].std / widths[len(widths) // 2] < 3.5, trained_stats

# %% [markdown]
# ## Explore
#
# Set *steps* to 200, 500 and 1000 and follow the (100, 27) curve. Then try other gains.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["steps", "gain"], views=["weight_gradients"], dataset=data, gain=5/3, steps=1)

# %% [markdown]
# ## Try it yourself
#
# 1. At one step and gain 3, which weight has the smallest grad:data ratio? Does that fit what you
#    saw in lesson 3's gradients?
# 2. Roughly how many steps does it take before the output layer's ratio drops below 1?
#
# <details><summary>A hint</summary>
#
# The smallest is the last hidden layer's (100, 100) weight; apart from the output layer the largest
# belong to the first layers: lesson 3's fan of gradients, seen from the weights. For question 2,
# somewhere between 20 and 30 steps: the output layer's weights grow fast at the start.
#
# </details>
#
# Next: **[lesson 7](07_update_ratios.ipynb)**: what each step actually does to the weights.

# %% tags=["check"]
# The hint's "between 20 and 30 steps"
assert stats.weight_grad_stats(train(Config(gain=5/3, steps=20), data))[-1].grad_data_ratio > 1
assert stats.weight_grad_stats(train(Config(gain=5/3, steps=30), data))[-1].grad_data_ratio < 1
