# %% [markdown]
# # Lesson 9 · Playground
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 8](08_batchnorm.ipynb)*
#
# Every knob from the course in one place, and two networks side by side. Nothing new to read: use
# the four pictures to explain what you see to yourself, or to a neighbour.
#
# | knob | what it changes | seen in lesson |
# |---|---|---|
# | **gain** | the factor on every Linear weight at initialization (type `5/3` into its box) | 1–4 |
# | **activation** | the non-linearity: tanh, relu, gelu, sigmoid, or linear (none: the linear sandwich) | 5, 11 |
# | **learning rate** | the size of each step | 7, 8 |
# | **optimizer** | sgd (the lecture's) or adam (a step size per weight) | 12 |
# | **batch norm** | a BatchNorm layer after every Linear layer | 8 |
# | **residual** | every hidden block adds its input to its output: x + f(x) | 12 |
# | **fan_in scaling** | dividing initial weights by √fan_in | 7 |
# | **depth**, **n_hidden** | the number of hidden layers and the neurons in each | 4 |
# | **steps** | how long to train; 1 shows the network at initialization | 6, 7 |
# | **seed** | which random weights and batches are drawn | 1 |
# | **pictures at step** | moves the pictures to a snapshot of an earlier step (the tables stay at the last) | 10 |

# %%
from nbdiag import live_figures, load_dataset
from nbdiag.widgets import Comparison, Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()

# %% [markdown]
# ## The dashboard
#
# One network, all four pictures and their tables, and a fifth picture: each tanh layer's saturation
# over training. Each change retrains it from scratch. Train it for more than one step and the
# **pictures at step** slider takes every picture back to an earlier step of the same run (a snapshot
# every 25 steps), without training again: watch the curves settle.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(dataset=data, snapshots=25, steps=300,
          views=["activations", "gradients", "weight_gradients", "update_ratios", "saturation_over_time"])

# %% [markdown]
# ## Side by side
#
# Two networks with their own knobs, drawn on the same axes, so a wider curve really is wider. They
# start as lesson 1's network without and with batch norm.

# %%
# NBVAL_IGNORE_OUTPUT
Comparison(dict(batchnorm=False), dict(batchnorm=True), dataset=data)

# %% [markdown]
# ## Challenges
#
# 1. Without batch norm, make the network 10 layers deep. Which gain keeps every tanh layer between 2%
#    and 10% saturated? Is it the same as for 5 layers?
# 2. Find settings where the update:data lines spread over more than two decades. Which pictures
#    warned you first?
# 3. Make the training diverge (hint: the learning rate) and read what the dashboard says.
# 4. With batch norm, how small can the gain get before anything in the pictures changes? And what
#    about the update:data lines?
