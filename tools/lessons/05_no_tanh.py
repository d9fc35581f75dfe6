# %% [markdown]
# # Lesson 5 · No tanh: the linear sandwich
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 4](04_gain_0_5.ipynb) · next: [lesson 6, weight gradients](06_weight_gradients.ipynb)*
#
# The gain lessons all blamed, or thanked, tanh. So take it out: the same five hidden Linear layers,
# stacked directly on each other, still with a gain of **5/3**. Since there is no tanh to look at, the
# pictures and tables now show the output of each hidden **Linear** layer (layers 0 to 4).

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()
run = train(Config(gain=5/3, activation="linear"), data)

# %% [markdown]
# ## Forward pass

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(stats.activation_histograms(run))

# %% [markdown]
# **Predict, then reveal.** The input to the first layer, the embedded characters, has a std of about 1.
# A Linear layer scaled by 1/√fan_in keeps the std, and the gain multiplies it by 5/3. Nothing squeezes
# it any more. What std do you expect at layer 4? (Hint: (5/3)⁵.)

# %% tags=["reveal"]
print("# outputs of the Linear layers, no tanh, gain 5/3")
print(stats.format_activation_table(stats.activation_stats(run)))

# %% [markdown]
# **What the numbers say.** The std grows by about 5/3 per layer: 1.65, 2.72, 4.67, 7.50, 12.78, and
# (5/3)⁵ ≈ 12.9. The curves spread wider and flatter at every layer. The "saturated" column says n/a: a
# Linear layer has no flat part, so nothing can be stuck on one. (The lecture's table counted the outputs
# beyond ±0.97 here too, 55% at layer 0 to 94% at layer 4; without tanh that means only *large*.)
#
# The gain was chosen to undo tanh's squeeze. With no squeeze to undo, it simply multiplies, layer
# after layer: the activations explode.

# %% [markdown]
# ## Backward pass

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_gradients(stats.gradient_histograms(run))

# %% [markdown]
# **Predict, then reveal.** On the way back the gradient is multiplied by the transposed weights, the
# same gain of 5/3 per layer. Which layer gets the biggest gradient, the first or the last?

# %% tags=["reveal"]
print("# gradients, no tanh, gain 5/3")
print(stats.format_gradient_table(stats.gradient_stats(run)))

# %% [markdown]
# **What the numbers say.** Mirror image: the gradient grows by about 5/3 per layer on the way *back*,
# from 3.2e-4 at layer 4 to 2.6e-3 at layer 0. The activations blow up toward the output, the gradients
# toward the input. Each direction compounds the same factor, only in the opposite order.
#
# Without a non-linearity the gain must be exactly right, here 1, to keep both passes steady; any other
# value grows or shrinks geometrically with depth. Before batch normalization, residual connections and
# optimizers such as Adam, deep networks really were this fragile, and initialization was tuned by hand.
#
# One more thing: a stack of linear layers is itself just one linear layer (multiply the matrices
# together). However deep, this sandwich can only learn what a single Linear layer could. The tanh we
# took out is what makes depth worth having.

# %% [markdown]
# ## Explore
#
# Start with no activation (*linear*). Set the gain to 1, then to 0.5. Then pick *tanh* again.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["gain", "activation"], views=["activations", "gradients"], dataset=data, gain=5/3, activation="linear")

# %% [markdown]
# ## Try it yourself
#
# 1. With no activation, which gain keeps every layer's std close to 1? What do the gradients do then?
# 2. With no activation and gain 0.5, predict the std of layer 4's output before you look.
#
# <details><summary>A hint</summary>
#
# Gain 1: every layer stays near std 1 and the gradient curves lie on top of each other. At gain 0.5
# each layer halves the spread: about 0.5⁵ ≈ 0.03 at layer 4.
#
# </details>
#
# Next: **[lesson 6](06_weight_gradients.ipynb)**: from the layers' outputs to the weights themselves.
