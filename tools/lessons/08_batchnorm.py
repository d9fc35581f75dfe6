# %% [markdown]
# # Lesson 8 · Batch normalization
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 7](07_update_ratios.ipynb) · next: [lesson 9, playground](09_playground.ipynb)*
#
# Lessons 1 to 7 were a balancing act: one gain, chosen just right, kept the signal alive in both
# directions. Batch normalization takes most of that fragility away. A **BatchNorm** layer now sits
# after every Linear layer, just before the tanh. For each neuron it takes the batch of 32 values,
# subtracts their mean and divides by their std, so whatever the weights did, the tanh always receives
# inputs of mean 0 and std 1. Two learned parameters per neuron, a scale *gamma* and a shift *beta*,
# then let the network choose another spread if it wants one.
#
# Two details change. The Linear layers lose their bias, since beta does the same job. And the output
# layer's "start unsure" shrink by 0.1 is now applied to the last BatchNorm's gamma, not to the weights.
#
# The network has three layers per block now, so the tanh layers are numbers 2, 5, 8, 11 and 14. We
# train it for 1001 steps (a few seconds) and draw all four pictures.

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()

# %%
# NBVAL_IGNORE_OUTPUT
run = train(Config(batchnorm=True, steps=1001), data)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(stats.activation_histograms(run))

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_gradients(stats.gradient_histograms(run))

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_weight_gradients(stats.weight_grad_histograms(run))

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_update_ratios(stats.update_ratio_history(run))

# %% [markdown]
# **Predict, then reveal.** Every tanh now gets inputs of std 1. Will its outputs be more or less
# saturated than the 5–20% of lesson 1? Will some layers differ from others?

# %% tags=["reveal"]
print("# activations, batch norm")
print(stats.format_activation_table(stats.activation_stats(run)))
print("\n# gradients, batch norm")
print(stats.format_gradient_table(stats.gradient_stats(run)))

# %% [markdown]
# **What the numbers say.** The activations are as even as they can be: std 0.63 to 0.65 and about 2%
# saturated in *every* layer, the first one included. The gradients grow only gently on the way
# back, from 2.6e-3 at layer 14 to 3.7e-3 at layer 2, and their curves nearly lie on top of each other. No gain had to be tuned for this:
# the normalization re-centres and re-scales every layer's input at every step.

# %% tags=["check"]
# The claims above, checked wherever this notebook runs: after many steps the last digits are the CPU's
acts, grads = stats.activation_stats(run), stats.gradient_stats(run)
assert all(0.63 <= round(a.std, 2) <= 0.65 and 1.5 < a.saturated < 3 for a in acts), acts
assert 2.5e-3 < grads[-1].std < 2.7e-3 < 3.6e-3 < grads[0].std < 3.8e-3, grads

# %% [markdown]
# **Predict, then reveal.** Lesson 6's output layer stood out by a factor of hundreds in grad:data.
# Now its weights were never shrunk (the last gamma was). What do you expect for the (100, 27) weight,
# and for the update:data lines?

# %% tags=["reveal"]
print("# weight gradients, batch norm")
print(stats.format_weight_table(stats.weight_grad_stats(run)))
print("\n# update:data at the last step, batch norm")
print(stats.format_update_ratios(run))

# %% [markdown]
# **What the numbers say.** No weight stands out any more: every grad:data ratio is between 0.01 and
# 0.07, and in the weight-gradient picture the output layer's curve is no wider than the others. The
# update:data lines sit together, a little above the guide, around −2.5, so a learning rate of 0.1 is,
# if anything, slightly high.

# %% tags=["check"]
bn_final = [h.log10_ratio[-1] for h in stats.update_ratio_history(run)]
assert all(0.01 < s.grad_data_ratio < 0.07 for s in stats.weight_grad_stats(run)), stats.weight_grad_stats(run)
assert all(-2.6 < r < -2.3 for r in bn_final[1:-1]) and -3.1 < bn_final[0] < -2.9, bn_final

# %% [markdown]
# ## Gain 0.2: insensitive, almost
#
# In lesson 4 a gain of 0.5 killed the signal. Try something even smaller, 0.2, with batch norm, for
# 500 steps this time.

# %%
# NBVAL_IGNORE_OUTPUT
small = train(Config(batchnorm=True, gain=0.2, steps=500), data)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(stats.activation_histograms(small))

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_update_ratios(stats.update_ratio_history(small))

# %% [markdown]
# **Predict, then reveal.** The activation picture looks just like the one above. But the update:data
# lines of the hidden layers have jumped. Up or down, and by how much?

# %% tags=["reveal"]
print("# activations, batch norm, gain 0.2")
print(stats.format_activation_table(stats.activation_stats(small)))
print("\n# update:data at the last step, batch norm, gain 0.2")
print(stats.format_update_ratios(small))

# %% [markdown]
# **What the numbers say.** The activations do not care: std 0.64 to 0.66, at most 2.9% saturated.
# Whatever scale the weights have, the normalization divides it away. The update:data ratios of the
# hidden weights, however, are now between −1.7 and −1.4: each step changes them by 2 to 4% of their
# size, some thirty times the rule of thumb.
#
# The reason is that same division. Batch norm makes each layer's output ignore the *scale* of its
# weights, so if the weights are k times smaller the loss is unchanged, but its gradient with respect
# to those weights is k times *larger*. Smaller weights and larger gradients: the ratio grows by k².
# From a gain of 5/3 to 0.2, k = 8.3 and k² ≈ 70, a shift of 1.84 on the log10 scale, which is exactly
# the gap between the two runs at step 0 (you can read it off the two pictures). Over training the
# weights grow and the gap narrows. The embedding C, which no batch norm follows, stays on the guide.
#
# So with batch norm the gain no longer decides whether the signal survives. It decides how fast the
# hidden layers learn, and the update:data picture is where that shows.

# %% tags=["check"]
small_history = stats.update_ratio_history(small)
assert all(0.64 <= round(a.std, 2) <= 0.66 and a.saturated < 2.9 for a in stats.activation_stats(small))
assert all(-1.7 < h.log10_ratio[-1] < -1.4 for h in small_history[1:-1]), small_history
gaps = [b.log10_ratio[0] - a.log10_ratio[0] for a, b in zip(stats.update_ratio_history(run)[1:-1], small_history[1:-1])]
assert all(abs(gap - 1.84) < 0.01 for gap in gaps), gaps
last = len(small.losses) - 1  # the gap at small's last step, against the lr 0.1 run at the same step: narrower
late = [b.log10_ratio[-1] - a.log10_ratio[last] for a, b in zip(stats.update_ratio_history(run)[1:-1], small_history[1:-1])]
assert all(0.8 < gap < 1.4 for gap in late), late
assert -3.2 < small_history[0].log10_ratio[-1] < -2.9

# %% [markdown]
# ## Ten times the learning rate
#
# Back to gain 5/3, with a learning rate of 1.0 instead of 0.1, for 500 steps again.

# %%
# NBVAL_IGNORE_OUTPUT
fast = train(Config(batchnorm=True, lr=1.0, steps=500), data)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_update_ratios(stats.update_ratio_history(fast))

# %% [markdown]
# **Predict, then reveal.** Ten times larger steps. Will every line move up by exactly 1 on the log
# scale? Does training fall apart, as it did in lesson 7 without batch norm?

# %% tags=["reveal"]
print("# update:data at the last step, batch norm, lr 1.0")
print(stats.format_update_ratios(fast))
print(fast.status)

# %% [markdown]
# **What the numbers say.** At step 0 every line does move up by exactly 1. By step 500 the hidden
# layers sit around −2.0, only about half a decade above the lr 0.1 run at that step: the bigger steps
# inflate the weights, and, as with gain 0.2, larger weights under batch norm receive smaller gradients.
# All the lines are now an order of magnitude above the guide, and the embedding's line (param 0) has
# moved from the guide to well above it.
#
# Yet training does not fall apart: after 500 steps its loss is even a little lower than the lr 0.1
# run's at that step (2.44 against 2.55, averaged over the last 50 steps). Batch norm makes the network
# robust to the gain and tolerant of the learning rate, and it leaves the update:data ratio as the one
# number to watch when choosing a learning rate.

# %% tags=["check"]
fast_history = stats.update_ratio_history(fast)
assert all(abs(f.log10_ratio[0] - r.log10_ratio[0] - 1) < 0.01
           for f, r in zip(fast_history, stats.update_ratio_history(run)))
assert all(-2.1 < h.log10_ratio[-1] < -1.9 for h in fast_history[1:-1]), fast_history
above = [f.log10_ratio[-1] - r.log10_ratio[499] for f, r in zip(fast_history[1:-1], stats.update_ratio_history(run)[1:-1])]
assert all(0.4 < gap < 0.8 for gap in above), above
assert fast_history[0].log10_ratio[-1] > -2.4
at_500 = run.losses[450:500].mean()  # the lr 0.1 run's loss at steps 450-499: its first 500 steps are a 500-step run
assert 2.4 < fast.losses[-50:].mean() < 2.48 and 2.52 < at_500 < 2.59, (fast.losses[-50:].mean(), at_500)

# %% [markdown]
# ## Explore
#
# All four pictures, with the knobs of this lesson. Runs are 300 steps here so that each change takes
# only a second or two; set *steps* higher for the full picture.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["batchnorm", "gain", "lr", "steps"], dataset=data, batchnorm=True, steps=300)

# %% [markdown]
# ## Try it yourself
#
# 1. With batch norm on and gain 0.2, find a learning rate that puts the hidden layers' update:data
#    lines on the guide. Where does the embedding's line (param 0) end up, and what happens to the loss?
# 2. Now untick *batch norm*, still at gain 0.2. Which earlier lesson does the activation picture remind you of?
#
# <details><summary>A hint</summary>
#
# About lr 0.002 brings the hidden layers down to −3, but the embedding, which batch norm does not
# rescale, drops to about −5.5 and the loss is worse than at lr 0.1: with one learning rate for all
# parameters, the gain now sets how fast the hidden layers learn relative to the embedding. Without batch
# norm, gain 0.2 is lesson 4 made worse: the std collapses toward zero within a few layers.
#
# </details>
#
# Next: **[lesson 9, the playground](09_playground.ipynb)**.

# %% tags=["check"]
# The hint's run, as the dashboard above makes it (300 steps); its lr 0.1 run is the first 300 steps of `small`
slow_bn = train(Config(batchnorm=True, gain=0.2, lr=0.002, steps=300), data)
hint_history = stats.update_ratio_history(slow_bn)
assert all(-3.2 < h.log10_ratio[-1] < -2.8 for h in hint_history[1:-1]), hint_history
assert -5.7 < hint_history[0].log10_ratio[-1] < -5.2, hint_history[0]
assert slow_bn.losses[-1] > small.losses[299]
