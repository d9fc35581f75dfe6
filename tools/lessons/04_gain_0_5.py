# %% [markdown]
# # Lesson 4 · Gain 0.5: the signal dies
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 3](03_gain_3.ipynb) · next: [lesson 5, no tanh](05_no_tanh.ipynb)*
#
# The last of the gain lessons: far too little, a gain of **0.5**.

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Comparison

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()
run = train(Config(gain=0.5), data)

# %% [markdown]
# ## Activations

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(stats.activation_histograms(run))

# %% [markdown]
# **Predict, then reveal.** Near zero, tanh is almost a straight line of slope 1, so a small input
# passes through nearly unchanged. If each Linear layer scales the spread by the gain, 0.5, what std do
# you expect at layers 3, 5, 7 and 9, given that layer 1 has 0.41?

# %% tags=["reveal"]
print("# activations, gain 0.5")
print(stats.format_activation_table(stats.activation_stats(run)))

# %% [markdown]
# **What the numbers say.** The std halves at every layer: 0.41, 0.20, 0.10, 0.05, 0.02. Nothing is
# saturated, because nothing gets anywhere near ±1. In the picture the curves turn into ever narrower
# spikes at zero.
#
# This is gain 1's fading taken to the extreme. Once the values are small, tanh behaves like the
# identity and only the gain matters, so every layer multiplies the spread by 0.5. After five layers
# the last hidden layer's outputs are almost all zero: whatever the input was, the output layer sees
# nearly the same thing.

# %% [markdown]
# ## Gradients

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_gradients(stats.gradient_histograms(run))

# %% [markdown]
# **Predict, then reveal.** The backward pass goes through the same weights, scaled by 0.5, and through
# tanh slopes that are all close to 1. Layer 9's gradient has std about 3e-4. What will layer 1's be?

# %% tags=["reveal"]
print("# gradients, gain 0.5")
print(stats.format_gradient_table(stats.gradient_stats(run)))

# %% [markdown]
# **What the numbers say.** The gradient halves at every layer on its way back: 3.1e-4, 1.6e-4,
# 8.0e-5, 3.9e-5, 1.9e-5. Layer 1 gets one sixteenth of layer 9's signal. The first layers are nearly
# frozen: their weights would barely move, however long you train.
#
# ## The four gains side by side
#
# | gain | activations (std, layer 1 → 9) | saturated | gradient std, layer 1 / layer 9 |
# |---|---|---|---|
# | 0.5 | 0.41 → 0.02, halving | none | 1/16 |
# | 1 | 0.62 → 0.32, fading | ≈ 0 after layer 1 | 0.6 |
# | **5/3** | **0.75 → 0.66, steady** | **5–20%** | **1.4** |
# | 3 | 0.85 → 0.84, steady but pinned | 40–48% | 3.3 |
#
# Only 5/3 keeps both passes steady without pinning neurons at ±1. For a deep tanh network,
# initialization is a balancing act: too little gain and the signal dies, too much and the neurons
# saturate.

# %% [markdown]
# ## Explore: gain 0.5 next to gain 5/3

# %%
# NBVAL_IGNORE_OUTPUT
Comparison(dict(gain=0.5), dict(gain=5/3), controls=["gain", "depth"], views=["activations", "gradients"], dataset=data)

# %% [markdown]
# ## Try it yourself
#
# 1. Set the depth to 10 on both sides. How does layer 19 look at gain 0.5, and at gain 5/3?
# 2. Predict the ratio of layer 1's gradient std to layer 9's at gain 0.8, then check it.
#
# <details><summary>A hint</summary>
#
# At gain 0.5 each extra layer halves the spread again, so ten layers leave almost nothing. At 5/3 the
# tenth layer looks like the fifth. For gain 0.8, four layers of about ×0.8 give 0.8⁴ ≈ 0.4; tanh's
# squeeze makes it a little smaller.
#
# </details>
#
# Next: **[lesson 5](05_no_tanh.ipynb)**: what if there were no tanh at all?
