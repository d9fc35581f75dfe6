# %% [markdown]
# # Lesson 12 · After batchnorm: residual connections and Adam
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 11, why 5/3](11_why_5_3.ipynb)*
#
# The lecture ends with a list: *batch normalization, residual connections, modern optimizers like
# Adam* made deep networks trainable without hand-tuned gains. Lesson 8 showed batchnorm. This lesson
# shows the other two, on a network ten times deeper than the lecture's: **50 hidden layers** of tanh.
#
# - A **residual connection** makes a block add to its input instead of replacing it: the block's
#   output is `x + f(x)`, where `f` is its Linear (+ BatchNorm) + tanh. Here every hidden block after
#   the first has one (`Config(residual=True)`); the first changes the width, so it has nothing to add to.
# - **Adam** gives every weight its own step size: it divides the gradient's running mean by its running
#   root mean square (`Config(optimizer="adam")`).

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()

# %% [markdown]
# ## 50 layers at initialization
#
# Lesson 2's gain of 1 faded the signal over 5 layers. Over 50 it has room to fade for good. Four networks,
# all with gain 1 and the same weights, after one step: plain, with residual connections, with batchnorm,
# and with both.

# %%
setups = {
    "plain": dict(),
    "residual": dict(residual=True),
    "batchnorm": dict(batchnorm=True),
    "residual + batchnorm": dict(residual=True, batchnorm=True),
}
runs = {name: train(Config(depth=50, gain=1, **setup), data) for name, setup in setups.items()}

# %%
# NBVAL_IGNORE_OUTPUT
axes = plots.plot_std_by_layer({name: (stats.activation_stats(r), stats.gradient_stats(r)) for name, r in runs.items()})

# %% [markdown]
# Left: the std of each tanh layer's output, first layer to last. Right: the std of the gradient arriving
# at it. Both on a log scale.
#
# **Predict, then reveal.** In the plain network the signal fades. Does the gradient fade too, on its way
# back to layer 1? And with residual connections: does the gradient reach layer 1, and how big is it there?

# %% tags=["reveal"]
print("# 50 tanh layers, gain 1, at initialization")
print(f"{'':22} output std at layer 1, 25, 50 | saturated at 50 | gradient at layer 1 / at layer 50")
for name, r in runs.items():
    out, grad = stats.activation_stats(r), stats.gradient_stats(r)
    spread = ", ".join(f"{out[i].std:.2f}" for i in (0, 24, 49))
    print(f"{name:22} {spread:>27} | {out[49].saturated:14.0f}% | {grad[0].std / grad[49].std:8.3g}x")

# %% [markdown]
# **What the numbers say.**
#
# - **Plain:** each layer passes on a little less; by layer 50 the std is under 0.1. The gradient fades on
#   the way back in the same way: layer 1 gets about a seventh of what layer 50 gets, so the first layers,
#   which see the input, barely learn.
# - **Residual:** the skips keep the signal (0.93 at layer 50), and the gradient has a straight path back
#   through every `x +`: it reaches layer 1, and not faded but **60 times larger**. Too much of a good thing:
#   each block adds its own branch to the stream, so the stream grows with depth, the tanh layers that read
#   it saturate (about 70% at layer 50), and every branch adds its gradient on the way back.
# - **Batchnorm:** every layer's output is held at about 0.63, but a deep plain stack of batchnorm layers
#   makes the gradient *explode* on its way back, hundreds of times larger at layer 1: each BatchNorm divides
#   the gradient by the std of its input, a little below 1, fifty times over. (This is a known result: Yang
#   et al., *A mean field theory of batch normalization*, 2019.)
# - **Both:** outputs held at 0.63, little saturation, and a gradient that reaches layer 1 about 10 times
#   larger: the recipe of the ResNets (He et al., 2016) and of every transformer since.

# %% tags=["check"]
out = {name: stats.activation_stats(r) for name, r in runs.items()}
fade = {name: stats.gradient_stats(r)[0].std / stats.gradient_stats(r)[49].std for name, r in runs.items()}
assert out["plain"][49].std < 0.1 and 0.1 < fade["plain"] < 0.2, fade
assert 0.9 < out["residual"][49].std < 0.96 and 60 < out["residual"][49].saturated < 80 and 40 < fade["residual"] < 80
assert all(0.6 < s.std < 0.66 for s in out["batchnorm"]) and 300 < fade["batchnorm"] < 1500, fade
assert all(0.6 < s.std < 0.66 for s in out["residual + batchnorm"]) and out["residual + batchnorm"][49].saturated < 5
assert 5 < fade["residual + batchnorm"] < 20, fade

# %% [markdown]
# ## Training 20 layers
#
# Does it matter once training starts? Three of the setups at 20 layers, 300 steps each, as the dashboard
# below runs them: plain, residual, and both. (Batchnorm alone, the slowest of the four to train, is yours to
# try in the dashboard.)

# %%
# NBVAL_IGNORE_OUTPUT
trained = {name: train(Config(depth=20, gain=1, steps=300, **setups[name]), data)
           for name in ("plain", "residual", "residual + batchnorm")}
for name, r in trained.items():
    print(f"{name:22} loss over the last 100 steps {r.losses[-100:].mean():.2f}")

# %% [markdown]
# All three train at 20 layers, and after 300 steps they are within two tenths of each other: at this
# depth, with tanh and gain 1, the plain stack learns as fast as residual + batchnorm. The residual stack
# has the roughest start: within a dozen steps its loss jumps to more than 20, and after 300 steps it is
# still behind the other two. Go back to 50 layers in the dashboard below and the plain stack falls behind
# residual + batchnorm.

# %% tags=["check"]
loss = {name: r.losses[-100:].mean().item() for name, r in trained.items()}
assert all(2.6 < value < 2.9 for value in loss.values()) and max(loss.values()) - min(loss.values()) < 0.2, loss
assert abs(loss["plain"] - loss["residual + batchnorm"]) < 0.03, loss
assert loss["residual"] > max(loss["plain"], loss["residual + batchnorm"]) + 0.05, loss  # its last digits: the CPU's
jump = {name: r.losses[:12].max().item() for name, r in trained.items()}
assert jump["residual"] > 20 and all(jump[name] < 3.5 for name in jump if name != "residual"), jump

# %% [markdown]
# ## Adam: every weight at its own pace
#
# Lesson 6 found the last layer learning 500 times faster per step than the others: its weights were
# shrunk by 0.1 but its gradient was not, and SGD's step is *lr × gradient*. Adam's first step is
# *lr × sign(gradient)* for every weight: its size no longer depends on the gradient at all.

# %%
sgd = train(Config(), data)
adam = train(Config(optimizer="adam", lr=0.001), data)

# %% [markdown]
# **Predict, then reveal.** With Adam at lr 0.001, what is the update:data of the 100 × 100 hidden weights,
# whose std is 5/3 / √100 = 0.17? And of the last layer, whose weights are 10 times smaller?

# %% tags=["reveal"]
print("# update:data after the first step, SGD lr 0.1")
print(stats.format_update_ratios(sgd))
print("\n# update:data after the first step, Adam lr 0.001")
print(stats.format_update_ratios(adam))

# %% [markdown]
# **What the numbers say.** With SGD the ratios follow the gradients: −3.2 to −3.4 for the hidden weights
# and −0.6 for the last layer, a lead of 2.7 in log10. With Adam every hidden weight moved by exactly
# 0.001, so each ratio is log10(0.001 / 0.17) = −2.2, the same for all five. The last layer still leads, by
# 1.2: not because of its gradient any more, only because its weights are 10 times smaller. The embedding
# C's rows that the batch did not use do not move at all, which pulls its ratio down.
#
# So with Adam the learning rate *is* the step size: ten times the learning rate moves every ratio up by
# exactly 1. Here is update:data over 300 steps of Adam at lr 0.001:

# %% tags=["check"]
first = [h.log10_ratio[0] for h in stats.update_ratio_history(adam)]  # C, the first Linear, 4 hidden, the last
assert all(-2.25 < r < -2.19 for r in first[2:-1]) and -1.05 < first[-1] < -0.95, first
old = [h.log10_ratio[0] for h in stats.update_ratio_history(sgd)]
assert all(-3.4 < r < -3.1 for r in old[2:-1]) and -0.7 < old[-1] < -0.55, old

# %%
# NBVAL_IGNORE_OUTPUT
adam_300 = train(Config(optimizer="adam", lr=0.001, steps=300), data)
ax = plots.plot_update_ratios(stats.update_ratio_history(adam_300))

# %% [markdown]
# The hidden layers' lines lie on top of each other the whole way, around −2.8, and the last layer's comes
# down to about −2.2 as its weights grow: every layer learns at nearly the same pace, with no gain tuned
# and no learning rate per layer. That is why Adam (and its descendant AdamW) is the default optimizer
# of deep learning today.

# %% tags=["check"]
final = [h.log10_ratio[-100:].mean() for h in stats.update_ratio_history(adam_300)]
assert all(-2.95 < r < -2.65 for r in final[2:-1]) and -2.3 < final[-1] < -2.05, final

# %% [markdown]
# ## Explore
#
# Start at 20 layers, gain 1, with neither. Tick *residual*, then *batch norm*; switch the optimizer to
# *adam* and bring the learning rate down to about 0.001. Raise *hidden layers* toward 50 for the plain
# stack's trouble (runs get slower: 50 layers × 300 steps take a few seconds).

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["residual", "batchnorm", "optimizer", "lr", "depth", "gain", "steps"],
          views=["activations", "gradients", "update_ratios"], dataset=data, depth=20, gain=1, steps=300)

# %% [markdown]
# ## Try it yourself
#
# 1. ReLU with residual connections and no batchnorm, gain √2 (`activation="relu"`, 20 layers): what happens
#    to the output std, and why does a tanh network not do the same?
# 2. Adam with the lecture's learning rate, 0.1: where do the update:data lines sit, and what does the loss do?
# 3. At 50 layers and gain 5/3 (lesson 11's plateau), does the plain stack still need residual connections?
#
# <details><summary>A hint</summary>
#
# 1. ReLU does not squash: each block adds a branch about as large as the stream itself, so the stream grows
#    by a factor of about 1.7 per block, to thousands by layer 20. Tanh's outputs stay below 1, so each block
#    adds at most a bounded amount, and the stream grows only slowly (0.7 to 0.9 over 20 layers).
# 2. They start near −0.2 (the first steps move each hidden weight by 0.1, over half its size), and the loss
#    climbs instead of falling, above 4 after 300 steps: Adam's usual learning rates are 1e-4 to 1e-3.
# 3. Forwards, 5/3 holds the signal (lesson 11). Backwards the gradient grows by about 80x from layer 50 to
#    layer 1: residual connections + batchnorm still give the most even picture.
#
# </details>
#
# This is the last lesson. Back to the **[start page](00_start_here.ipynb)**, or on to your own model in
# **[lesson 10](10_your_own_model.ipynb)** with these tools.
