# %% [markdown]
# # Lesson 2 · Gain 1: fading signals
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 1](01_gain_5_3.ipynb) · next: [lesson 3, gain 3](03_gain_3.ipynb)*
#
# Same network, same seed, same data as lesson 1. The only change: the weights are scaled by
# 1/√fan_in and nothing else, a gain of **1**.

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Comparison

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()
run = train(Config(gain=1), data)

# %% [markdown]
# ## Activations

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(stats.activation_histograms(run))

# %% [markdown]
# **Predict, then reveal.** With gain 5/3 the std settled near 0.66 from layer 3 on. Here the curves
# get taller and narrower as you go deeper. Guess layer 9's std, and how much of any layer is saturated.

# %% tags=["reveal"]
print("# activations, gain 1")
print(stats.format_activation_table(stats.activation_stats(run)))

# %% [markdown]
# **What the numbers say.** The first layer looks fine (std 0.62, a few percent saturated), but then
# the spread keeps shrinking: 0.48, 0.41, 0.35, 0.32. Saturation is zero from layer 3 on. Nothing is
# stuck at ±1, yet something is wrong: the signal is fading.
#
# The culprit is tanh. Scaling by 1/√fan_in alone is exactly what keeps the spread of a *linear*
# layer's output equal to that of its input. But every tanh is a squeeze: its slope is 1 at zero and
# less than 1 everywhere else, so outputs come out narrower than inputs. With nothing to stretch them
# back, five squeezes in a row compound. Add more layers and the std keeps falling toward zero.

# %% [markdown]
# ## Gradients

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_gradients(stats.gradient_histograms(run))

# %% [markdown]
# **Predict, then reveal.** The backward pass multiplies by the same weights and by tanh's slope.
# Does the gradient grow or shrink from layer 9 back to layer 1?

# %% tags=["reveal"]
print("# gradients, gain 1")
print(stats.format_gradient_table(stats.gradient_stats(run)))

# %% [markdown]
# **What the numbers say.** The gradients fade too, in the other direction: 3.1e-4 at layer 9 but only
# 1.8e-4 at layer 1. The first layers, furthest from the loss, get the weakest signal. In a deeper
# network this gets worse with every layer; that is the *vanishing gradient* problem in miniature.
#
# So "no gain" is not neutral for a tanh network. It is too small, and both passes show it.

# %% [markdown]
# ## Explore: gain 1 next to gain 5/3
#
# Left and right are two networks with the same seed, drawn on the same axes. Change either gain.

# %%
# NBVAL_IGNORE_OUTPUT
Comparison(dict(gain=1), dict(gain=5/3), controls=["gain"], views=["activations", "gradients"], dataset=data)

# %% [markdown]
# ## Try it yourself
#
# 1. Raise the left gain in small steps from 1. At about what gain does layer 9's std stop being
#    clearly smaller than layer 3's?
# 2. Look only at the gradient pictures. Could you tell which side has gain 1 without the labels?
#
# <details><summary>A hint</summary>
#
# Around 1.6 to 1.7, layer 9's std is within a few hundredths of layer 3's; 5/3 is also the value
# PyTorch's `calculate_gain` gives for tanh.
# In the gradient picture the gain-1 side has its layer-1 curve clearly narrower (taller) than its layer-9 curve.
#
# </details>
#
# Next: **[lesson 3, gain 3](03_gain_3.ipynb)**: what if we overdo it?
