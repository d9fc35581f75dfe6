# %% [markdown]
# # Why does a deep network train — or not?
#
# A short course in twelve notebooks. Each one takes a single idea from the lesson *"Visualizing the
# activation, gradients, gradient to data ratio and update to data distributions"* and lets you see
# it happen inside a real network: one idea per notebook, a few minutes of reading, then a widget
# to play with.
#
# The network is small enough to train on a laptop CPU in seconds, and deep enough (five hidden
# layers) to go wrong in all the classic ways: signals that fade out, signals that blow up, neurons
# stuck at ±1, layers that learn far faster than others. You will learn to *read* four pictures
# that tell these apart, long before the loss curve would.

# %% [markdown]
# ## The lessons
#
# | | lesson | the question it answers |
# |---|---|---|
# | 1 | [Gain 5/3: a healthy start](01_gain_5_3.ipynb) | What do activations and gradients look like when the initialization is right? |
# | 2 | [Gain 1: fading signals](02_gain_1.ipynb) | Why does "no gain" make every tanh layer quieter than the last? |
# | 3 | [Gain 3: stuck at ±1](03_gain_3.ipynb) | What does too much gain do to tanh, and to the gradients? |
# | 4 | [Gain 0.5: the signal dies](04_gain_0_5.ipynb) | What happens when the gain is far too small? |
# | 5 | [No tanh: the linear sandwich](05_no_tanh.ipynb) | Without a non-linearity, what does the gain do forwards and backwards? |
# | 6 | [Weight gradients and grad:data](06_weight_gradients.ipynb) | How big are the gradients compared with the weights, and why does the last layer stand out? |
# | 7 | [Update:data over training](07_update_ratios.ipynb) | Is the learning rate right? Reading the 1e-3 rule of thumb. |
# | 8 | [Batch normalization](08_batchnorm.ipynb) | How does batch norm make all of this far less fragile? |
# | 9 | [Playground](09_playground.ipynb) | Every knob at once, and two networks side by side. |
# | 10 | [Your own model](10_your_own_model.ipynb) | The same pictures and health findings for any torch.nn model, over training time, and next to the theory. |
# | 11 | [Why 5/3](11_why_5_3.ipynb) | Where does 5/3 come from, and what gain suits ReLU, GELU or sigmoid? A sweep of the gain through 50 layers. |
# | 12 | [After batchnorm](12_after_batchnorm.ipynb) | What do residual connections and Adam change in a 50-layer network? |
#
# Do them in order: each builds on the pictures of the one before.

# %% [markdown]
# ## How to use these notebooks
#
# - **Read first, run later.** Every notebook is saved with its pictures and tables, so you can read it
#   straight through. Run a cell with **Shift+Enter**, or all of them with *Run → Run All Cells*.
# - **Predict, then reveal.** Before each table of numbers there is a question. The table's output is
#   folded: make your guess, then run the cell (or click the folded output) to see whether you were right.
# - **Widgets.** Each lesson ends with a small dashboard. Drag a slider, tick a box, or type a number
#   into the box next to the *gain* slider and press **Enter** (typing `3` gives exactly 3, typing `5/3`
#   works too). Every change trains the network again with the new setting and redraws the pictures and
#   the tables in place; longer runs show a progress bar. Hover over a figure for its toolbar (pan,
#   zoom, back to the start, save as PNG).
# - **Your digits.** The tables print small numbers with three significant digits (`std 4.21e-04`): those are
#   the same on every computer. The lesson's text prints seven, and the seventh depends on your CPU's
#   floating-point kernels; `python -m nbdiag tables` prints all seven (on an Intel CPU, exactly the
#   lesson's). A few long, unstable runs (lessons 7 and 10 say which) differ more from machine to
#   machine, so their text gives ranges.
# - **If something looks stuck**, use *Kernel → Restart Kernel and Run All Cells*.
#
# Run the cell below: it loads the tools and the data set used by every lesson.

# %%
from nbdiag import Config, live_figures, load_dataset, train
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

data = load_dataset()  # the names data set, read once and shared by the runs below

# %% [markdown]
# ## The data: 32,033 names
#
# The network reads three characters of a name and guesses the fourth. Every name is padded with `.`,
# which marks both "before the start" and "the end", so one name of *n* letters gives *n* + 1 examples.

# %%
print(f"{len(data.words):,} names, e.g. {', '.join(data.words[:5])}")
print(f"{len(data.Xtr):,} training examples from the first 80% of them")
print(f"{data.vocab_size} symbols: '.' and a-z")

# %%
# the examples made from the first name: three characters in, the next one out
for context, target in zip(data.Xtr[:7], data.Ytr[:7]):
    print("".join(data.itos[int(i)] for i in context), "-->", data.itos[int(target)])

# %% [markdown]
# ## The network
#
# ```text
#   three characters, e.g.  "."  "e"  "m"           each one of 27 symbols
#              │
#   embedding C, a 27 × 10 table                    each character becomes 10 numbers: 30 in all
#              │
#   Linear  30 → 100,  then tanh    ┐
#   Linear 100 → 100,  then tanh    │   five hidden layers of 100 neurons:
#   Linear 100 → 100,  then tanh    │   their tanh outputs are the "activations"
#   Linear 100 → 100,  then tanh    │   and the "gradients" we will look at
#   Linear 100 → 100,  then tanh    ┘
#              │
#   Linear 100 → 27                                 one score per possible next character
#              │
#   cross-entropy loss against the character that really came next, e.g. "m"
# ```
#
# Every Linear layer starts with random weights drawn from a normal distribution, divided by
# √fan_in (the number of inputs it adds up) and multiplied by a **gain**. The gain is the first knob
# you will turn. Training is plain stochastic gradient descent on batches of 32 examples.
#
# The same network as nbdiag builds it, one line per layer, after a single training step:

# %%
run = train(Config(), data)
for layer in run.layers:
    print(f"layer {layer.index:2d}  {layer.kind:6s}  output {tuple(layer.out.shape)}")
print(run.status)

# %% [markdown]
# Layer numbers count every step of the computation, so the tanh layers are 1, 3, 5, 7 and 9: those
# are the numbers in the tables of the first lessons. Each output is 32 rows (one per example in the
# batch) by 100 neurons.
#
# ## The four pictures
#
# 1. **Activation distribution**: a histogram of what each tanh layer outputs. Healthy: spread over
#    (−1, 1) without piling up at the ends.
# 2. **Gradient distribution**: a histogram of the gradient of the loss with respect to each tanh
#    layer's output. Healthy: about the same width in every layer.
# 3. **Weight-gradient distribution** and the **grad:data ratio**: how big each weight matrix's gradient
#    is compared with the weights themselves.
# 4. **Update:data ratio over training**: how much each step actually changes each weight matrix,
#    relative to its size. The rule of thumb is about 1/1000.
#
# ## Try a widget
#
# Here is the first picture with one knob. Type `3` into the box next to *gain* and press Enter, then
# try `0.5`. Watch the curves: you will meet both settings in lessons 3 and 4.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["gain"], views=["activations"], dataset=data)

# %% [markdown]
# Ready? Start with **[lesson 1: Gain 5/3](01_gain_5_3.ipynb)**.
