# %% [markdown]
# # Lesson 11 · Why 5/3
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 10](10_your_own_model.ipynb) · next: [lesson 12](12_after_batchnorm.ipynb)*
#
# Lessons 1 to 4 tried four gains on the lecture's network of five tanh layers: 5/3 was healthy, 1 and
# 0.5 let the signal shrink, 3 saturated it. But why 5/3, and not 1.5 or 2? Would the answer change for
# a deeper network, or for ReLU?
#
# This lesson asks the question in its barest form, without any training: a stack of hidden layers of
# 100 units, each a Linear layer (weights drawn from randn, divided by √fan_in, times the **gain**; no
# bias) followed by the activation. One batch of 100 random inputs (std 1) goes through it once, and we
# measure every hidden layer's output. A **sweep** does that for 42 gains from 0.1 to 4 and for up to
# 50 layers, in less than half a second.

# %%
from nbdiag import live_figures, plots
from nbdiag.sweep import format_layers, format_std, format_table, histograms, sweep_gains
from nbdiag.widgets import GainSweep

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

tanh = sweep_gains("tanh")  # every hidden layer's std and saturation, for 42 gains, up to 50 layers deep

# %% [markdown]
# ## tanh: a fade, a plateau, and saturation
#
# Left: the std of the **last** hidden layer's output against the gain, for networks of 5, 20 and 50
# hidden layers, on a log scale (the black line is std 1, the input's). Right: the share of that layer's
# outputs that are saturated, beyond ±0.97 where tanh is flat. The dashed line is the gain PyTorch
# recommends for tanh.

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_gain_sweep(tanh, highlight=50)

# %% [markdown]
# **Predict, then reveal.** Gain 1 is what a Linear layer scaled by 1/√fan_in needs to keep the size of
# its input. With tanh after it, what happens to the std from 5 to 50 layers? And at 5/3 and at 3: does a
# deeper network end up with a larger std, a smaller one, or the same?

# %% tags=["reveal"]
print(format_table(tanh, gains=(0.5, 1, 1.3, 5/3, 2, 3)))

# %% [markdown]
# **What the numbers say.** Three regimes:
#
# - **Below 1 the signal dies.** At gain 0.5 each layer halves it (tanh is almost a straight line for
#   values that small): 0.024 after 5 layers, nothing after 50.
# - **At 1 it fades, slowly.** 0.31 after 5 layers, 0.18 after 20, 0.074 after 50. tanh's slope is 1 only
#   at 0 and smaller everywhere else, so every layer squeezes its input a little. The smaller the signal,
#   the straighter tanh looks to it and the less it squeezes, so the fade slows down, but it never stops.
# - **From about 1.3 on there is a plateau.** The std is the same after 5, 20 or 50 layers: 0.63 to 0.65
#   at 5/3, 0.83 or 0.84 at 3. A small signal is stretched by the gain (tanh is nearly straight there), a
#   large one is squeezed by tanh's flat ends; in between lies the one size where the two balance, and
#   every layer pulls the signal back to it. The gain decides where that size lies, not whether it holds.
#
# So any gain above about 1.3 keeps a signal alive through any depth. Why not take 3, then? Because the
# plateau rises with the gain, and so does the saturation: at 3, 40% of the outputs sit on tanh's flat
# ends, where less than 6% of the gradient gets through (lesson 3). **5/3 is the compromise**: well onto
# the plateau, a std of about 0.64, with only 3.6 to 5.7% of the outputs saturated.

# %% tags=["check"]
# The claims above. The sweep computes in float64: the same numbers on every CPU
std_5, sat_5 = tanh.at_depth(5)
std_20, sat_20 = tanh.at_depth(20)
std_50, sat_50 = tanh.at_depth(50)
at = {g: tanh.gains.index(g) for g in (0.5, 1.0, 5/3, 3.0)}
assert 0.02 < std_5[at[0.5]] < 0.03 and std_50[at[0.5]] < 1e-10
assert 0.3 < std_5[at[1.0]] < 0.32 and 0.17 < std_20[at[1.0]] < 0.19 and 0.07 < std_50[at[1.0]] < 0.08
for std, sat in ((std_5, sat_5), (std_20, sat_20), (std_50, sat_50)):
    assert 0.625 < std[at[5/3]] < 0.655 and 3.5 < sat[at[5/3]] < 6, (std[at[5/3]], sat[at[5/3]])
    assert 0.825 < std[at[3.0]] < 0.845 and 38.5 < sat[at[3.0]] < 40.5, (std[at[3.0]], sat[at[3.0]])
on_plateau = [k for k, g in enumerate(tanh.gains) if g >= 1.3]
assert all(abs(std_50[k] / std_5[k] - 1) < 0.1 for k in on_plateau)  # the same std at depth 5 and 50
assert all(sat_50[k] < 0.2 for k, g in enumerate(tanh.gains) if g <= 1.3)

# %% [markdown]
# ## Layer by layer
#
# Inside the 50-layer network at gain 5/3: the output distribution of some of its hidden layers.

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(histograms("tanh", 5/3, depth=50))

# %% [markdown]
# **Predict, then reveal.** Layer 1's curve has horns at ±1, the deeper ones do not. Lesson 1's network,
# at the same gain, had a std of 0.75 and 20% saturated in its first tanh layer. What will this
# network's layer 1 show, and its deeper layers? And at gain 1?
#
# Besides the std and the saturated share, the table shows the **std across examples**: how much each
# unit's output changes from one input to the next (its std over the batch, averaged over the units).
# It says how much a layer still depends on its input.

# %% tags=["reveal"]
print(format_layers("tanh", 5/3, depth=50))
print()
print(format_layers("tanh", 1, depth=50))

# %% [markdown]
# **What the numbers say.** At 5/3, layer 1 looks just like lesson 1's first layer: std 0.76, 21%
# saturated. Its input has std 1, not the plateau's size, so the gain stretches it too far. From then
# on every layer is pulled to the plateau: a std of 0.63 to 0.65 and 3.6 to 5.5% saturated at layers
# 8, 15, 22, 29, 36, 43 and 50, as in lesson 1's deeper layers. At gain 1 the std slides from 0.63 at
# layer 1 to 0.074 at layer 50, with nothing to stop it.
#
# In both, the std across examples is almost the whole std: what varies is the response to the input,
# which is what the next layers need. Keep that column in mind for sigmoid, below.

# %% tags=["check"]
layer_1_std, layer_1_sat = (t[at[5/3]] for t in tanh.at_depth(1))
assert 0.755 < layer_1_std < 0.765 and 20.5 < layer_1_sat < 21.5
assert all(0.625 < tanh.std[d - 1, at[5/3]] < 0.655 and 3.5 < tanh.saturated[d - 1, at[5/3]] < 5.6 for d in (8, 15, 22, 29, 36, 43, 50))
assert 0.625 < tanh.std[0, at[1.0]] < 0.635

# %% [markdown]
# ## Where 5/3 comes from: `calculate_gain`
#
# PyTorch keeps a recommended gain for each activation in `torch.nn.init.calculate_gain`: 5/3 for tanh,
# √2 for ReLU, 1 for sigmoid and for no activation at all; it has no value for GELU. For ReLU the value
# follows from a one-line argument, below. For tanh PyTorch gives no derivation (the plateau's height
# depends on the gain in no simple way): 5/3 is a rule of thumb, and the sweep shows why it is a good one.
#
# ## ReLU: a knife edge
#
# ReLU keeps the positive half of its input and zeroes the rest, so it halves the mean square. A Linear
# layer with gain *g* followed by ReLU therefore multiplies the signal's size by *g*/√2, on average. At
# √2 the two cancel. At any other gain nothing pulls the signal back: ReLU has no flat end to squeeze a
# large signal and is no straighter for a small one. It even scales exactly, ReLU(*g·x*) = *g*·ReLU(*x*),
# so every gain's network is the √2 network with every layer multiplied by *g*/√2.

# %%
# NBVAL_IGNORE_OUTPUT
relu = sweep_gains("relu")
ax = plots.plot_gain_sweep(relu, highlight=50)

# %% [markdown]
# **Predict, then reveal.** Gains of 1.2 and 1.6 are each about 15% away from √2. After 50 layers, how
# much smaller or larger than the √2 network's will their std be? And the saturated share (for ReLU, the
# outputs that are exactly 0)?

# %% tags=["reveal"]
print(format_table(relu, gains=(1, 1.2, 2**0.5, 1.6, 2)))
relu_50, _ = relu.at_depth(50)
root_2 = relu_50[relu.gains.index(2**0.5)].item()
print("\nafter 50 layers: the √2 network's std times (gain/√2)^50")
for gain in (1.2, 1.6):
    factor = (gain / 2**0.5) ** 50
    measured = relu_50[relu.gains.index(gain)].item()
    print(f"gain {gain}: {format_std(root_2)} x {format_std(factor)} = {format_std(root_2 * factor)}, measured {format_std(measured)}")

# %% [markdown]
# **What the numbers say.** An error of about 15% in the gain loses or gains about 15% per layer, and 50
# layers multiply it: the std falls by a factor of 2.7e-04 at gain 1.2 (to 8.7e-05) and grows by a factor
# of 479 at 1.6 (to 153), exactly as the formula says. After 5 layers the three networks are still within
# a factor of 5 of each other; after 50, 1.2 and 1.6 are nearly two million times apart. That is the
# **knife edge**: tanh forgives a wrong gain, ReLU multiplies it, layer after layer. The saturated share
# is the same at every gain, about half (45 to 60% depending on the layer): the gain scales the outputs,
# but which units are 0 never changes.
#
# Even √2 does not give std 1 after 50 layers, but 0.32. √2 keeps the *expected* size: with 100 units
# each layer's random weights nudge the size a few percent up or down, and over 50 layers the nudges
# multiply too. Another seed, another network: let us see how far that goes.

# %% tags=["check"]
relu_5, _ = relu.at_depth(5)
at = {g: relu.gains.index(g) for g in (1.2, 2**0.5, 1.6)}
assert 8.6e-5 < relu_50[at[1.2]] < 8.8e-5 and 150 < relu_50[at[1.6]] < 156 and 0.31 < root_2 < 0.33
assert 2.6e-4 < (1.2 / 2**0.5) ** 50 < 2.8e-4 and 475 < (1.6 / 2**0.5) ** 50 < 485
assert relu_5[at[1.6]] / relu_5[at[1.2]] < 5 and 1.5e6 < relu_50[at[1.6]] / relu_50[at[1.2]] < 2e6
assert all(45 < sat < 60 for sat in relu.saturated[:, 0]) and bool((relu.saturated == relu.saturated[:, :1]).all())

# %% [markdown]
# **Predict, then reveal.** The same two sweeps with other seeds, that is other random weights and
# inputs: tanh at 5/3 and ReLU at √2, 50 layers deep. Which of the two moves more?

# %% tags=["reveal"]
for seed in range(1, 9):
    tanh_std, _ = sweep_gains("tanh", gains=(5/3,), seed=seed).at_depth(50)
    relu_std, _ = sweep_gains("relu", gains=(2**0.5,), seed=seed).at_depth(50)
    print(f"seed {seed}: tanh at 5/3 {format_std(tanh_std.item())}, ReLU at √2 {format_std(relu_std.item())}")

# %% [markdown]
# **What the numbers say.** tanh lands on its plateau every time, 0.64 or 0.65. ReLU at √2 lands
# anywhere between 0.21 and 2.4: a factor of more than ten, from the random weights alone. Nothing
# holds a ReLU stack at one size, not even the right gain; it only keeps the expected size. That is one
# reason why deep ReLU networks are rarely a bare stack: batch normalization (lesson 8) resets the size
# at every layer.

# %% tags=["check"]
seeds = [(sweep_gains("tanh", gains=(5/3,), seed=s).std[49, 0].item(), sweep_gains("relu", gains=(2**0.5,), seed=s).std[49, 0].item()) for s in range(1, 9)]
assert all(0.635 < t < 0.655 for t, _ in seeds), seeds
assert 0.2 < min(r for _, r in seeds) < 0.22 and 2.3 < max(r for _, r in seeds) < 2.45, seeds

# %% [markdown]
# ## The other activations: sigmoid, GELU, none
#
# GELU, the smooth ReLU of transformers, at the gains around √2:

# %%
# NBVAL_IGNORE_OUTPUT
gelu = sweep_gains("gelu")
ax = plots.plot_gain_sweep(gelu, highlight=50)

# %% [markdown]
# **Predict, then reveal.** `calculate_gain` has no GELU value; ReLU's √2 is the obvious guess. Does it
# hold a GELU stack? And what do sigmoid at its gain of 1, and no activation at all at gain 1, do?

# %% tags=["reveal"]
sigmoid, linear = sweep_gains("sigmoid"), sweep_gains("linear")
print(format_table(gelu, gains=(1, 2**0.5, 1.5, 1.6)))
print()
print(format_table(sigmoid, gains=(1, 2, 4)))
print()
print(format_table(linear, gains=(1, 1.2)))

# %% [markdown]
# **What the numbers say.**
#
# - **GELU at √2 fades**: 6.6e-07 after 50 layers. Near 0, GELU is close to *x*/2, half a straight line,
#   so a small signal needs a gain of 2 to hold; far from 0 it is ReLU and needs √2. In between, no gain
#   holds every size: a signal a little too small shrinks, one a little too large grows. At 1.5 a
#   std-1 input happens to hold (3.0 after 50 layers), at 1.6 it explodes (136). A knife edge again,
#   at a value no table gives you: the sweep finds it. GELU is flat only for inputs below about -3, so
#   its saturated share counts those alone: none at √2, where the faded signal sits near 0 (GELU's slope
#   there is 1/2, nothing like flat), and about half at 1.6, where the exploding signal sends half its
#   inputs far below 0.
# - **Sigmoid at 1 looks calm**: a std of 0.11 to 0.13 at any depth, nothing saturated. Hold that thought.
# - **No activation at all** is ReLU's story with √2 replaced by 1: at 1 the std stays near 1 (0.78
#   after 50 layers), at 1.2 it grows to 7.1e+03.

# %% tags=["check"]
gelu_50, _ = gelu.at_depth(50)
assert 6.5e-7 < gelu_50[gelu.gains.index(2**0.5)] < 6.7e-7 and 2.9 < gelu_50[gelu.gains.index(1.5)] < 3.1
assert 130 < gelu_50[gelu.gains.index(1.6)] < 140
_, gelu_sat_50 = gelu.at_depth(50)
assert gelu_sat_50[gelu.gains.index(2**0.5)] == 0 and 45 < gelu_sat_50[gelu.gains.index(1.6)] < 60
sigmoid_last = [(std[sigmoid.gains.index(1.0)], sat[sigmoid.gains.index(1.0)]) for std, sat in map(sigmoid.at_depth, (5, 20, 50))]
assert all(0.105 < std < 0.135 and sat == 0 for std, sat in sigmoid_last), sigmoid_last
linear_50, _ = linear.at_depth(50)
assert 0.77 < linear_50[linear.gains.index(1.0)] < 0.79 and 7050 < linear_50[linear.gains.index(1.2)] < 7150

# %% [markdown]
# **Predict, then reveal.** Sigmoid's std holds. Does its network still respond to its input? Look at
# the std across examples.

# %% tags=["reveal"]
print(format_layers("sigmoid", 1, depth=10, layers=(1, 2, 3, 5, 10)))

# %% [markdown]
# **What the numbers say.** A steady std can hide a dead network. Sigmoid's outputs lie around 0.5, not
# around 0, so the next layer's input is mostly that constant 0.5, multiplied by each unit's random
# weights: every unit gets its own fixed value, whatever the input. The std of 0.11 is the differences
# *between units*; the std across examples, the part that depends on the input, falls from 0.21 at
# layer 1 to 6.2e-04 at layer 5 and 4.9e-07 at layer 10. Five layers deep, every input gives the same
# output. This is why tanh, centred on 0, replaced sigmoid in hidden layers.

# %% tags=["check"]
sigmoid_10 = format_layers("sigmoid", 1, depth=10, layers=(1, 5, 10)).splitlines()
assert sigmoid_10[1].split()[2:4] == ["0.21", "0.21"] and sigmoid_10[2].split()[3] == "6.2e-04" and sigmoid_10[3].split()[3] == "4.9e-07"

# %% [markdown]
# ## Explore
#
# Pick an activation and a depth; move the gain and watch the red marker on the sweep and the hidden
# layers of that network below. The button jumps to the activation's `calculate_gain`.

# %%
# NBVAL_IGNORE_OUTPUT
GainSweep()

# %% [markdown]
# *On the digits.* The sweep computes in double precision (float64), so every number above is the same on
# every CPU. Above gain 1 a deep tanh stack is *chaotic*: a difference in the last bit of one number grows
# from layer to layer, and in single precision, float32, the 50th layer's values (though not the story)
# would differ from one CPU to the next. Lesson 7 met the same sensitivity in a long, unstable run.
#
# ## Try it yourself
#
# 1. Choose **gelu** and 50 hidden layers in the explorer. Which gains keep the last layer's std between
#    0.1 and 10? Compare the width of that window with tanh's.
# 2. For ReLU, the formula says the std changes by (gain/√2)^depth. How close to √2 must the gain be to
#    stay within a factor of 2 of √2's std, at depth 5 and at depth 50?
# 3. Does a larger gain save sigmoid? Try `print(format_layers("sigmoid", 4, depth=10, layers=(1, 2, 3, 5, 10)))`.
#
# <details><summary>A hint</summary>
#
# 1. Only from about 1.47 to 1.52 (at 1.46 the std is 0.014, at 1.53 it is 11): a window of 0.05, where
#    tanh's plateau holds any gain from 1.3 to 4.
# 2. Within 15% at depth 5 (1.15 to the 5th power is 2), within 1.4% at depth 50 (1.014 to the 50th is 2).
# 3. It slows the loss down, it does not stop it: the std across examples is 0.050 at layer 5 and 5.8e-03
#    at layer 10, and about 10% of the outputs are saturated.
#
# </details>
#
# Next: **[lesson 12](12_after_batchnorm.ipynb)**.

# %% tags=["check"]
# The hint's numbers
fine = tuple(round(1.40 + 0.01 * k, 2) for k in range(21))
gelu_fine, _ = sweep_gains("gelu", gains=fine).at_depth(50)
window = [g for g, s in zip(fine, gelu_fine) if 0.1 < s < 10]
assert window == [1.47, 1.48, 1.49, 1.5, 1.51, 1.52], window
assert 0.01 < gelu_fine[fine.index(1.46)] < 0.02 and 10 < gelu_fine[fine.index(1.53)] < 12
assert 1.99 < 1.15 ** 5 < 2.02 and 1.99 < 1.014 ** 50 < 2.01
sigmoid_4 = format_layers("sigmoid", 4, depth=10, layers=(5, 10)).splitlines()
assert sigmoid_4[1].split()[3] == "0.050" and sigmoid_4[2].split()[3:] == ["5.8e-03", "9.9%"]
