# %% [markdown]
# # Lesson 7 · The update:data ratio over training
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 6](06_weight_gradients.ipynb) · next: [lesson 8, batch norm](08_batchnorm.ipynb)*
#
# The grad:data ratio of lesson 6 ignores the learning rate. What a training step really does to a
# weight matrix is add *learning rate × gradient* to it, so the number that matters is
#
# > **update:data = std(lr × gradient) / std(weights)**
#
# measured at every step for every weight matrix. It says what fraction of its own size a matrix
# changes by in one step. We plot its log10, with a black line at −3: **a ratio of about 1/1000 is a
# good rule of thumb**. Far above the line, each step rewrites a noticeable part of the weights and
# training gets erratic; far below, the weights barely move and training crawls.
#
# Lesson 1's network (gain 5/3, learning rate 0.1), trained for 1000 steps, a few seconds:

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()

# %%
# NBVAL_IGNORE_OUTPUT
run = train(Config(steps=1000), data)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_update_ratios(stats.update_ratio_history(run))

# %% [markdown]
# One line per weight matrix: param 0 is the embedding C, params 1 to 9 the hidden Linear weights,
# param 11 the output layer.
#
# **Predict, then reveal.** Param 11 starts far above the others. Why, after lesson 6? By step 1000, will
# the hidden layers sit above, on or below the black line?

# %% tags=["reveal"]
print("# update:data at the last step, lr 0.1")
print(stats.format_update_ratios(run))
print(run.status)

# %% [markdown]
# **What the numbers say.** The table is the last step's ratio, as a log10. After a quick climb
# during the first few dozen steps every line flattens out:
#
# - **C (param 0)** settles right on the guide, around −3.
# - **The hidden layers** settle a little above it, between −2.6 and −2.3, that is 3 to 5 per thousand.
#   Not alarming, but a hint that a learning rate of 0.1 is on the high side for them.
# - **The output layer (param 11)** starts near −0.6, each step changing its weights by a quarter
#   of their size, for the reason of lesson 6: its weights were shrunk by 0.1 while its gradient was
#   not. As those weights grow its ratio comes down, to about −1.5, still the outlier.
#
# Flat lines at about the same height mean all layers learn at a similar pace. That, more than any
# single number, is what a healthy run looks like.

# %% tags=["check"]
# The claims above, checked wherever this notebook runs: after many steps the last digits are the CPU's
final = [h.log10_ratio[-1] for h in stats.update_ratio_history(run)]  # C, five hidden weights, output
assert -3.1 < final[0] < -2.9 and all(-2.6 < r < -2.3 for r in final[1:-1]), final
assert -0.7 < stats.update_ratio_history(run)[-1].log10_ratio[0] < -0.5 and -1.6 < final[-1] < -1.4, final
assert 2.2 < run.losses[-1] < 2.3

# %% [markdown]
# ## A learning rate that is too low
#
# The same run with a learning rate of 0.001, a hundred times smaller.

# %%
# NBVAL_IGNORE_OUTPUT
slow = train(Config(steps=1000, lr=0.001), data)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_update_ratios(stats.update_ratio_history(slow))

# %% [markdown]
# **Predict, then reveal.** A hundred times smaller steps: how far down do the lines move? And the loss?

# %% tags=["reveal"]
print("# update:data at the last step, lr 0.001")
print(stats.format_update_ratios(slow))
print(slow.status)

# %% [markdown]
# **What the numbers say.** Every hidden line now sits around −5: each step changes the weights by a
# few parts in a hundred thousand, two orders of magnitude under the guide. After 1000 steps the loss
# is still above 3.0 (it starts at 3.3; the run above reached about 2.25). Nothing is broken; the
# network just learns far too slowly, and the picture tells you so long before the loss curve would.

# %% tags=["check"]
slow_final = [h.log10_ratio[-1] for h in stats.update_ratio_history(slow)]
assert all(-5.2 < r < -4.7 for r in slow_final[1:-1]), slow_final
assert 3.0 < slow.losses[-1] < slow.losses[0] < 3.4

# %% [markdown]
# ## Initialization without the √fan_in
#
# Back to a learning rate of 0.1, but the weights are no longer divided by √fan_in: each one is a
# standard normal number times the gain.

# %%
# NBVAL_IGNORE_OUTPUT
raw = train(Config(steps=1000, fan_in_scaling=False), data)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_update_ratios(stats.update_ratio_history(raw))

# %% [markdown]
# **Predict, then reveal.** A Linear layer with 100 inputs now produces outputs about √100 = 10 times
# wider than before. What will that do to the tanh layers? And will the layers still learn at similar speeds?

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
# (a run this unstable prints other figures on another CPU: see below)
print("# activations, no fan_in scaling")
print(stats.format_activation_table(stats.activation_stats(raw)))
print("\n# update:data at the last step, no fan_in scaling")
print(stats.format_update_ratios(raw))
print(raw.status)

# %% [markdown]
# **What the numbers say.** Almost everything is broken at once:
#
# - About 90% or more of every tanh layer is **saturated**, the lesson 3 problem, only much worse.
# - The **update:data lines fan out** over two orders of magnitude: the embedding C changes by 1/30
#   to 1/100 of its size per step, the last hidden layer by about 1/10,000. Instead of one pace, every
#   layer learns at its own, and the first layers, whose big gradients come back through many large
#   weights, run far ahead of the last ones.
#
# The loss still goes down, but it ends around 2.6 to 2.8, far higher than the properly scaled run's 2.25.
# This picture is the quickest way to see that an initialization or a learning rate is off: look for
# lines far from the guide, or far apart from each other.
#
# **Your numbers may differ from these.** Each CPU rounds its sums in its own last bit, and a run this
# unstable grows those tiny differences step after step: after 1000 steps the saturation differs by a few
# tenths of a percent from one machine to the next, and C's update:data by up to half a decade. The healthy
# runs above come out the same to the last printed digit everywhere. Sensitivity to tiny changes is itself
# a symptom: a well-initialized network forgets a last-bit difference, a broken one amplifies it.

# %% tags=["check"]
raw_final = [h.log10_ratio[-1] for h in stats.update_ratio_history(raw)]
assert all(85 < s.saturated < 99 for s in stats.activation_stats(raw)), stats.activation_stats(raw)
assert -2.2 < raw_final[0] < -1.4 and -4.15 < raw_final[-2] < -3.8, raw_final
assert 2.5 < raw.losses[-1] < 2.9

# %% [markdown]
# ## Explore
#
# Change the learning rate, switch the √fan_in scaling on and off, and watch the lines move. Runs
# start at 300 steps, a second or two each; longer runs show a progress bar while they train.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["lr", "fan_in_scaling", "steps"], views=["update_ratios"], dataset=data, steps=300)

# %% [markdown]
# ## Try it yourself
#
# 1. Set *steps* to 500. Which learning rate puts the hidden layers' lines right on the black guide?
#    Does that run reach a lower or a higher loss than lr 0.1?
# 2. Try lr 1. What do the lines do, and what happens to the loss?
#
# <details><summary>A hint</summary>
#
# The lines move up and down with log10(lr): about 0.03 puts the hidden layers on the guide. After
# 500 steps its loss is a little higher than lr 0.1's, so the rule of thumb gives the right order of
# magnitude, not an exact target. At lr 1 the lines sit near −1.5 and the loss ends *higher* than
# it started: every step overshoots.
#
# </details>
#
# Next: **[lesson 8](08_batchnorm.ipynb)**: batch normalization, and why it makes all this much less fragile.

# %% tags=["check"]
# The hint's runs: lr 0.03 on the guide, a little worse than lr 0.1; lr 1 near -1.5 and ending above its start
hint = {lr: train(Config(steps=500, lr=lr), data, progress=False) for lr in (0.03, 1.0)}
on_guide = [h.log10_ratio[-1] for h in stats.update_ratio_history(hint[0.03])][1:-1]
overshoot = [h.log10_ratio[-1] for h in stats.update_ratio_history(hint[1.0])][1:-1]
assert all(-3.35 < r < -2.9 for r in on_guide) and all(-1.8 < r < -1.3 for r in overshoot), (on_guide, overshoot)
lr_01 = run.losses[450:500].mean()  # lr 0.1 after 500 steps: the first 500 steps of `run` are a 500-step run
assert lr_01 < hint[0.03].losses[-50:].mean() < lr_01 + 0.2
assert hint[1.0].losses[-50:].mean() > hint[1.0].losses[0]
