# %% [markdown]
# # Lesson 3 · Gain 3: stuck at ±1
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 2](02_gain_1.ipynb) · next: [lesson 4, gain 0.5](04_gain_0_5.ipynb)*
#
# Gain 1 was too little. What about too much? Same network and seed, with a gain of **3**.

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()
run = train(Config(gain=3), data)

# %% [markdown]
# ## Activations

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(stats.activation_histograms(run))

# %% [markdown]
# **Predict, then reveal.** The curves now look like a "U": low in the middle, tall spikes at both
# ends. Guess the saturated share of layer 1. Is it a tenth, a quarter, a half? Do the deeper layers
# recover as they did with gain 5/3?

# %% tags=["reveal"]
print("# activations, gain 3")
print(stats.format_activation_table(stats.activation_stats(run)))

# %% [markdown]
# **What the numbers say.** Almost half of every layer is saturated: 47.66% in layer 1 and 40–42% in
# every layer after it. The std sits at 0.84, which sounds healthy, but here it is large only because
# so many outputs are pinned at −1 or +1.
#
# A gain of 3 makes each neuron's input about three times wider than tanh's "working range" near zero,
# so a large share of the inputs land on the flat parts of the curve. Unlike gain 1 this does not get
# worse with depth: each layer's input is always wide enough to saturate the next tanh, so they all
# settle at the same level. The damage is that a saturated neuron's slope is nearly zero: whatever
# gradient arrives there, almost nothing passes through to its weights.

# %% [markdown]
# ## Gradients

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_gradients(stats.gradient_histograms(run))

# %% [markdown]
# **Predict, then reveal.** Going backwards, each layer's gradient is multiplied by weights three
# times too big, then by tanh slopes of which nearly half are close to zero. Which wins? Will layer 1's
# gradient std be bigger or smaller than layer 9's?

# %% tags=["reveal"]
print("# gradients, gain 3")
print(stats.format_gradient_table(stats.gradient_stats(run)))

# %% [markdown]
# **What the numbers say.** The weights win: the std grows on the way back, from 3.1e-4 at layer 9 to
# 1.0e-3 at layer 1, more than three times bigger. The picture shows it as a fan of curves, the
# layer-1 curve the widest. Compare lesson 1, where the whole range was a factor of 1.4.
#
# So the layers get very different signals: the first layers would be pushed hard, the last ones
# gently, while half the neurons in every layer hardly learn at all. Neither pass is healthy; the
# gain is too large.

# %% [markdown]
# ## Explore
#
# Slide the gain from 3 down toward 5/3 and watch the spikes at ±1 shrink, then the gradient fan close up.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["gain"], views=["activations", "gradients"], dataset=data, gain=3)

# %% [markdown]
# ## Try it yourself
#
# 1. Find the gain at which layer 1 is about 10% saturated.
# 2. Try a gain of 10. What happens to the saturation, and to the gradient fan?
#
# <details><summary>A hint</summary>
#
# The 10% point lies between gains of 1.2 and 1.4. At gain 10 more than 80% of every layer is
# saturated: the activation picture is two spikes at ±1.
#
# </details>
#
# Next: **[lesson 4, gain 0.5](04_gain_0_5.ipynb)**: the other extreme.
