# %% [markdown]
# # Lesson 1 · Gain 5/3: a healthy start
#
# *[Start page](00_start_here.ipynb) · next: [lesson 2, gain 1](02_gain_1.ipynb)*
#
# This lesson sets the baseline every other lesson is compared with: the network of the start page,
# its weights scaled by √fan_in and a gain of **5/3**, looked at right after its first training step.

# %%
from nbdiag import Config, live_figures, load_dataset, plots, stats, train
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()
run = train(Config(gain=5/3), data)  # one step of SGD, the lesson's seed

# %% [markdown]
# ## Activations
#
# One curve per tanh layer: how often each output value occurs, over a batch of 32 examples × 100 neurons.

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(stats.activation_histograms(run))

# %% [markdown]
# **Predict, then reveal.** Look at the two ends of the curves, near −1 and +1. Which layer has the
# most outputs piled up there? Guess what percentage of layer 1's outputs are beyond ±0.97, and whether
# the deeper layers have more or fewer. Then run the next cell (its output is folded) to check.

# %% tags=["reveal"]
print("# activations, gain 5/3")
print(stats.format_activation_table(stats.activation_stats(run)))

# %% [markdown]
# **What the numbers say.** *mean* and *std* describe the spread of a layer's outputs; *saturated* is
# the share with |output| > 0.97. That threshold matters because tanh's slope there is below
# 1 − 0.97² ≈ 0.06: a saturated neuron passes back less than 6% of the gradient that reaches it, so it
# barely learns.
#
# - Layer 1 is the most saturated, about one output in five, which is the tall horns at the ends
#   of its curve.
# - From layer 3 on, the spread settles: std around 0.66, and only 5–8% of outputs saturated.
#   A sixth or a tenth layer would look the same.
#
# Why does it settle? Each Linear layer scaled by 1/√fan_in keeps the spread of its input. Each
# tanh then squeezes it, because its slope is 1 only at zero and smaller everywhere else. A gain of
# 5/3 stretches the weights just enough to undo that squeeze, so layer after layer the spread stays
# put instead of shrinking or growing.

# %% [markdown]
# ## Gradients
#
# The same kind of histogram, for the gradient of the loss with respect to each tanh layer's output.

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_gradients(stats.gradient_histograms(run))

# %% [markdown]
# **Predict, then reveal.** Gradients flow backwards, from layer 9 down to layer 1. Do they get
# wider, narrower, or stay about the same on the way? Guess the ratio of layer 1's std to layer 9's.

# %% tags=["reveal"]
print("# gradients, gain 5/3")
print(stats.format_gradient_table(stats.gradient_stats(run)))

# %% [markdown]
# **What the numbers say.** Every mean is practically zero, as it should be. The std grows gently on
# the way back, from about 3.1e-4 at layer 9 to 4.2e-4 at layer 1: less than a factor of 1.4 over four
# layers. Nothing vanishes and nothing explodes, so every layer gets a usable learning signal.
#
# That is the point of the gain: the backward pass goes through the same weights and the same tanh
# slopes as the forward pass, so a gain that keeps the activations steady keeps the gradients steady too.

# %% [markdown]
# ## Explore
#
# Type a gain into the box next to the slider and press Enter (`5/3` works); the pictures and tables
# follow. The seed changes which weights and which batch are drawn.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["gain", "seed"], views=["activations", "gradients"], dataset=data, gain=5/3)

# %% [markdown]
# ## Try it yourself
#
# 1. Try gains of 1.4 and 2. What happens to the deeper layers (3 to 9), their std and their
#    saturation? Where would you put the "good" range?
# 2. Change the seed a few times at gain 5/3. Which numbers move, and by how much? Is the picture's
#    story the same?
#
# <details><summary>A hint</summary>
#
# At 1.4 the deep layers are hardly saturated, but their std has started to slip (about 0.57). At 2
# about one output in six is saturated in every layer. The good range is fairly narrow, around 5/3.
# With other seeds the percentages move by a few points, but the shape (a saturated first layer,
# steady layers after it) stays.
#
# </details>
#
# Next: **[lesson 2, gain 1](02_gain_1.ipynb)**, where the gain is taken away.
