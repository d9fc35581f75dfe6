# %% [markdown]
# # Lesson 10 · Your own model
#
# *[Start page](00_start_here.ipynb) · previous: [lesson 9, playground](09_playground.ipynb) · next: [lesson 11, why 5/3](11_why_5_3.ipynb)*
#
# Everything so far looked inside nbdiag's own from-scratch network. Your own networks are built
# from `torch.nn` modules and trained with an optimizer such as Adam. `nbdiag.watch` puts the same
# four pictures on them: wrap your training loop in `with watch(model) as rec:` and call
# `rec.step(loss)` after each `optimizer.step()`. Then `rec` works with `stats`, `plots` and
# `health` exactly like a `train(...)` run.
#
# Here the student's model is the lesson's MLP with **ReLU** instead of tanh, trained with **Adam**.

# %%
import torch
from torch import nn

from nbdiag import Config, health, live_figures, load_dataset, plots, stats, train, watch
from nbdiag.widgets import Dashboard

live_figures()  # redrawn in place (ipympl); without ipympl, still pictures and how to get live ones

torch.set_num_threads(1)  # one thread: the same numbers on every machine, and faster for a model this small
data = load_dataset()

# %% [markdown]
# ## The model: plain torch.nn
#
# An embedding, a flatten, five Linear + ReLU blocks and an output Linear, with PyTorch's default
# initialization. Seeding torch before building it, and giving the minibatches their own seeded
# generator, makes every run of this notebook print the same numbers.

# %%
torch.manual_seed(42)
layers = [nn.Embedding(data.vocab_size, 10), nn.Flatten()]  # (B, 3) -> (B, 3, 10) -> (B, 30)
fan_in = 30
for _ in range(5):
    layers += [nn.Linear(fan_in, 100), nn.ReLU()]  # (B, 100)
    fan_in = 100
layers.append(nn.Linear(100, data.vocab_size))  # (B, 27) logits
model = nn.Sequential(*layers)
print(model)

# %% [markdown]
# ## Training it under watch
#
# Adam with a learning rate of 0.01, 500 steps of 32 examples. The only lines nbdiag adds to an
# ordinary training loop are the `with` and the `rec.step(loss)`. By default `watch` records every
# activation layer, here the five ReLUs (module numbers 3, 5, 7, 9 and 11 of the Sequential).
# `snapshots=25` also keeps every picture's histograms every 25 steps, for the dashboard below.

# %%
# NBVAL_IGNORE_OUTPUT
# (its final loss, and every figure of this run below, varies a little from CPU to CPU: see "Your numbers")
g = torch.Generator().manual_seed(2147483647)  # draws the minibatches
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
with watch(model, lr=0.01, snapshots=25) as rec:
    for step in range(500):
        ix = torch.randint(0, len(data.Xtr), (32,), generator=g)
        loss = nn.functional.cross_entropy(model(data.Xtr[ix]), data.Ytr[ix])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        rec.step(loss)
print(rec.status)

# %% [markdown]
# ## The four pictures
#
# For a ReLU, "saturated" means **exactly zero**: the unit is off and passes no gradient. About half of
# a healthy ReLU layer's outputs are zero for any one example; the trouble starts when a unit is zero
# for *every* example, a **dead unit**.

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activations(stats.activation_histograms(rec))

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_gradients(stats.gradient_histograms(rec))

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_weight_gradients(stats.weight_grad_histograms(rec))

# %% [markdown]
# The update:data picture measures what Adam *really* did to each weight (the change from one step to
# the next), not lr × gradient. The green band is the healthy range around the 1e-3 rule of thumb.

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_update_ratios(stats.update_ratio_history(rec))
plots.shade_healthy_bands(ax, "update_ratio")

# %% [markdown]
# **Predict, then reveal.** Adam scales every step to about the learning rate, whatever the gradient.
# With lr 0.01, where will the update:data lines sit? And how many of the ReLUs' outputs will be zero:
# about half, as at the start, or more?

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print("# activations (saturated = exactly 0)")
print(stats.format_activation_table(stats.activation_stats(rec)))
print("\n# update:data at the last step")
print(stats.format_update_ratios(rec))

# %% [markdown]
# **What the numbers say.** The update:data lines end between about −2.7 and −1.6, two to twenty-five times
# above the 1e-3 guide: Adam's steps are large for these weights. And far more than half of each layer's
# outputs are zero, 78% to 96%: big steps have pushed many units to where their input is negative for every
# example, and there they stay, since a dead unit gets no gradient to bring it back.
#
# **Your numbers.** The figures stored in this notebook are one machine's. Run it on yours and they will
# differ a little: every CPU rounds its float32 sums in its own last bit, and 500 big Adam steps, with units
# switching off one by one, grow those differences into different percentages. The ranges in the text hold
# on every machine (a hidden cell checks them). The lesson's own network, trained with plain SGD in the
# lessons before, forgets such differences and prints the same figures everywhere.

# %% tags=["check"]
# The claims above, checked wherever this notebook runs
relu_final = [h.log10_ratio[-1] for h in stats.update_ratio_history(rec)]
assert all(-2.75 < r < -1.55 for r in relu_final), relu_final
assert all(75 < a.saturated < 98 for a in stats.activation_stats(rec)), stats.activation_stats(rec)

# %% [markdown]
# ## Health findings
#
# `health.diagnose` reads the same records and says in words what looks wrong, with the number behind
# each finding.

# %% [markdown]
# **Predict, then reveal.** Which findings do you expect: dead units, saturation, vanishing gradients,
# an update:data far from 1e-3?

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print(health.format_findings(health.diagnose(rec)))

# %% [markdown]
# **What the findings say.** Dead units: between half and four fifths of the units in each of the
# deeper ReLU layers, and none to a tenth in the first; a problem found in three layers or more is told
# once, by its worst layer. As they leave less signal behind, the output std shrinks with depth: the last
# two ReLU layers keep only a third to a half of the first one's. On some machines two more findings join
# them, because this run sits right at their thresholds: a run-wide update:data of about 1e-2, with the
# learning rate that would bring it to 1e-3, and gradients fading on their way back to the first layers.
# Note what is *not* there: a ReLU's half-zero outputs are not flagged as saturation (the tables call that
# share "zero"), since that is how a ReLU works; only units off for the whole batch are. And the advice is
# for your model: √2 is the gain that suits ReLU, and batchnorm before a ReLU keeps any unit from staying
# off for a whole batch.

# %% tags=["check"]
findings = health.diagnose(rec, grouped=False)  # a finding per layer
dead = {f.where: f.value for f in findings if f.code == "dead_units"}
assert all(0.5 < dead[f"layer {i} (ReLU)"] < 0.85 for i in (5, 7, 9, 11)) and dead.get("layer 3 (ReLU)", 0) < 0.15, dead
shrinking = {f.where: f.value for f in findings if f.code == "collapsing"}
assert set(shrinking) == {"layer 9 (ReLU)", "layer 11 (ReLU)"} and all(0.3 < v < 0.6 for v in shrinking.values())
assert {f.code for f in findings} <= {"dead_units", "collapsing", "update_ratio", "vanishing_gradients"}, findings

# %% [markdown]
# ## Your run in the dashboard
#
# `Dashboard(run=rec)` shows what `watch` recorded in the same dashboard as the lessons' network: the
# four pictures with their healthy bands shaded, the findings and the tables. There is nothing to
# retrain, so there are no knobs; instead the **pictures at step** slider moves every picture to one of
# the snapshots. Slide it from step 0 to the end and watch the spike at 0 in the activation picture grow
# as the units die. On the update:data picture the dotted line marks the step: Adam's first steps are
# far above the green band and come down towards it, most lines ending near its upper edge.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(run=rec)

# %% [markdown]
# **Predict, then reveal.** At step 0 the ReLUs had just been initialized. What share of each layer's
# outputs was zero then, and how many steps did it take to get near today's numbers?

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
for r in stats.activations_over_time(rec):
    shares = ", ".join(f"{zero:.0f}% at step {step}" for step, zero in zip(r.steps, r.saturated)
                       if step in (0, 25, 50, 100, 475))
    print(f"{r.label}, outputs exactly 0: {shares}")

# %% [markdown]
# **What the numbers say.** At step 0 every layer is a healthy ReLU layer: about half of its outputs are
# zero. Most of the damage is done early: after 25 steps the deeper layers are at 60–74%, after 100 steps
# at 66–83%, and it goes on getting worse, to 78–96% at the end. The first steps are Adam's largest
# relative to the weights (update:data near 1e-1), and they push many units where they never come back.

# %% tags=["check"]
zero_shares = {step: [r.saturated[list(r.steps).index(step)] for r in stats.activations_over_time(rec)]
               for step in (0, 25, 100, 475)}
assert all(45 < z < 55 for z in zero_shares[0]) and all(59 < z < 75 for z in zero_shares[25][1:]), zero_shares
assert all(65 < z < 84 for z in zero_shares[100][1:]) and all(77 < z < 97 for z in zero_shares[475]), zero_shares
assert all(-1.2 < h.log10_ratio[:5].max() < -0.5 for h in stats.update_ratio_history(rec)[1:])

# %% [markdown]
# ## The diagnostics over training time
#
# A single table is one moment. `train(..., snapshots=N)` also keeps each watched layer's histogram
# every N steps (never more than 64 snapshots: when full, every other one is dropped and the spacing
# doubled). Here the lesson's tanh network, 500 steps, a snapshot every 10.

# %%
# NBVAL_IGNORE_OUTPUT
run = train(Config(steps=500), data, snapshots=10)
over_time = stats.activations_over_time(run)

# %%
# NBVAL_IGNORE_OUTPUT
ax = plots.plot_activation_over_time(over_time, 1)

# %% [markdown]
# Step on x, output value on y, and the colour says how many outputs had that value (log10 density; yellow
# is many). Layer 1's bright bands at ±1 are its saturated outputs. Below: each tanh layer's mean, std and
# saturation at every snapshot, with the healthy saturation range shaded.

# %%
# NBVAL_IGNORE_OUTPUT
axes = plots.plot_layer_stats_over_time(over_time)

# %% [markdown]
# **Predict, then reveal.** Layer 1 starts at 20% saturated. Does training make it better or worse over
# 500 steps? And the deeper layers?

# %% tags=["reveal"]
for r in over_time:
    start, end = f"{r.saturated[0]:.2f}% at step {r.steps[0]}", f"{r.saturated[-1]:.2f}% at step {r.steps[-1]}"
    print(f"{r.label}: saturated {start}, {end}")

# %% [markdown]
# **What the numbers say.** Training does not cure layer 1: it stays around 20%. The deeper layers
# drift up from 5–8% to about 10%, the edge of the healthy band. A single table at step 0 or at the end
# would not tell you which way things were going; the picture over time does.

# %% tags=["check"]
assert 19 < over_time[0].saturated[-1] < 21 and all(9 < r.saturated[-1] < 11 for r in over_time[1:]), over_time

# %% [markdown]
# ## Theory next to measurement
#
# If every layer were linear, the fan_in and gain arithmetic of lessons 1–5 would predict each layer's
# std exactly: gain 5/3 multiplies it by 5/3 per layer forwards, and the gradients grow by 5/3 per layer
# going backwards. `stats.predicted_std` computes that prediction; the dashed line draws it over what the
# network really does at its first step.

# %%
# NBVAL_IGNORE_OUTPUT
first = train(Config(), data)
predicted = stats.predicted_std(first.config, data.vocab_size)
axes = plots.plot_predicted_std(predicted, stats.activation_stats(first), stats.gradient_stats(first))

# %% [markdown]
# **Predict, then reveal.** Where does the measured std leave the linear prediction, and by how much at
# layer 9?

# %% tags=["reveal"]
measured = {s.index: s.std for s in stats.activation_stats(first)}
for p in predicted:
    print(f"layer {p.index}: predicted std {p.activation_std:.2f}, measured {measured[p.index]:.2f}")

# %% [markdown]
# **What the numbers say.** From the very first layer: the linear prediction grows by 5/3 per layer, to
# 12.9 at layer 9, while tanh squashes every output back into (−1, 1), so the measured std stays near
# 0.7. That is the point of the gain: it makes up for what the squashing takes away, so the signal
# neither grows nor fades.
#
# ## Explore
#
# The lesson's network with the knobs you know. Compare what it shows with your ReLU network's pictures.

# %%
# NBVAL_IGNORE_OUTPUT
Dashboard(controls=["gain", "lr"], views=["activations", "update_ratios"], dataset=data)

# %% [markdown]
# ## Try it yourself
#
# 1. Train the ReLU model again with Adam at lr 0.001 (rebuild the model first, or it goes on from where
#    it is). How many dead units does `health.diagnose` find now?
# 2. Replace `nn.ReLU()` by `nn.Tanh()` in the model. Which findings appear, and which go away?
# 3. Train the lesson's network with `snapshots="log"`: at which steps are the snapshots taken, and why is
#    that a good choice for the first few hundred steps?
#
# <details><summary>A hint</summary>
#
# With lr 0.001 Adam's steps are ten times smaller: update:data comes down by about a decade and far
# fewer units die. Log-spaced snapshots (0, 1, 2, 4, 8, ...) look closely at the start, where
# things change fastest, and only now and then later.
#
# </details>
#
# Next: **[lesson 11](11_why_5_3.ipynb)**: where 5/3 comes from, and the gains of other activations.
