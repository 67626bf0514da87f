"""Chapter 5 explorers: a model's lifetime cost split, and how far past Chinchilla to train it.

`lifetime_explorer`: at a fixed quality (loss), chip-hours of pretraining, RL and inference as
the model size varies along the curve of constant loss, with the cheapest size marked. The RL
slider sets how many rollout tokens are generated and what share of them is trained on.
`overtraining_explorer`: the over-training factor D / (20 N) of the cheapest model, and of the
"spend as much on pretraining as on serving" rule, against the serving rate, for a deployment
length, beside the factors of published models.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import lifetime as lt
from .. import training as tr
from ..hardware import CHIPS, hardware
from ..models import model
from ..plotting import OKABE_ITO, decade_limits, style_axes
from ..units import fmt_count
from .base import Explorer

FIT = tr.BESIROGLU_2024
RATES = np.logspace(3, 10, 120)          # served tokens per second
FACTOR_RANGE = (0.3, 1e5)                 # D / (20 N)
MFU_MIN, MFU_MAX = 0.05, 0.6              # slider limits for both MFUs
SERVED_MAX = 10**16.5                     # tokens served, slider maximum

#: Pretraining tokens of published models: Llama 3.1 model card ("15T+"; 15.6T for 405B per the
#: Llama 3 paper, arXiv:2407.21783), DeepSeek-V3 README (14.8T), Kimi K2 README (15.5T).
PUBLISHED_TOKENS = {"Llama 3.1 8B": 15e12, "Llama 3.1 70B": 15e12, "Llama 3.1 405B": 15.6e12,
                    "DeepSeek-V3": 14.8e12}


def _published_factor(name, tokens):
    """tokens / (20 N) with N as the lab counts it (active parameters for a mixture of experts)."""
    m = model(name)
    return tr.overtraining_factor(m.published_active or m.published_total, tokens)


#: Over-training factors of published models (drawn as horizontal lines).
PUBLISHED = {name: _published_factor(name, d) for name, d in PUBLISHED_TOKENS.items()}
#: Published serving rates (tokens per second), dated; see the chapter for sources.
RATE_MARKS = {
    "DeepSeek output, Feb 2025": 168e9 / tr.DAY,
    "Google, all products, Oct 2025": 1.3e15 / tr.MONTH,
}

_STYLE = {"description_width": "150px"}
_LAYOUT = widgets.Layout(width="300px")


def _quality_slider(value):
    return widgets.FloatLogSlider(value=value, base=10, min=9, max=12.5, step=0.05, readout_format=".3g",
                                  description="quality: loss of N at 20 tok/param", style=_STYLE, layout=_LAYOUT)


def _mfu_slider(label, value):
    return widgets.FloatSlider(value=value, min=MFU_MIN, max=MFU_MAX, step=0.01, description=label,
                               style=_STYLE, layout=_LAYOUT)


def _count(x, unit=""):
    """fmt_count up to trillions, scientific notation beyond ('2.5e+15 tokens')."""
    return fmt_count(x, unit) if x < 1e15 else f"{x:.2g} {unit}".strip()


def _times(k):
    return f"{k:,.0f}" if k >= 100 else f"{k:.1f}"


def quality_loss(params):
    """The loss (Besiroglu et al. fit) of a model of `params` trained on 20 tokens per parameter."""
    return FIT.loss(params, tr.chinchilla_tokens(params))


class LifetimeExplorer(Explorer):
    live_grid = {"quality": [7e9, 70e9, 400e9], "served": [1e12, 1e13, 1e14, 1e15],
                 "rl_tokens": [1e8, 1e12, 1e13], "rl_trained_fraction": [0.0, 1.0],
                 "train_mfu": [0.35], "decode_mfu": [0.05, 0.14, 0.3], "chip": ["H100 SXM", "B200"]}

    def setup(self):
        ax = self.ax = self.fig.subplots()
        self.fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.95)
        self.lines = {
            "pretraining": ax.plot([1], [1], color=OKABE_ITO["blue"], lw=1.8, label="pretraining")[0],
            "rl": ax.plot([1], [1], color=OKABE_ITO["purple"], lw=1.8, ls="-.", label="RL")[0],
            "inference": ax.plot([1], [1], color=OKABE_ITO["vermillion"], lw=1.8, ls="--", label="inference")[0],
            "total": ax.plot([1], [1], color=OKABE_ITO["black"], lw=2.5, alpha=0.6, label="total")[0],
        }
        self.best = ax.axvline(1, color=OKABE_ITO["green"], ls=":", lw=1.5, label="cheapest size")
        self.chin = ax.plot([1], [1], "o", color=OKABE_ITO["orange"], ms=7, label="compute-optimal (no serving)")[0]
        # Limits follow the controls (see draw).
        style_axes(ax, log="xy", xlabel="model size N (active parameters)", ylabel="lifetime cost (chip-hours)",
                   legend=dict(loc="upper center", ncol=3))
        self.animated = [*self.lines.values(), self.best, self.chin]

    def _y_range(self, n_c, d_c, hw):
        """Seven decades from the cheapest pretraining (compute-optimal model, best MFU) / 30.

        It depends on the quality and the chip only, so moving tokens served, RL tokens or the
        MFUs only redraws the lines (a full re-render is several times slower, see base.py)."""
        low = lt.lifetime_compute(n_c, d_c, 0.0, hw, train_mfu=MFU_MAX, decode_mfu=MFU_MAX).total / 3600
        return decade_limits(low / 30, low * 3e4)

    def draw(self, quality, served, rl_tokens, train_mfu, decode_mfu, chip="H100 SXM", rl_trained_fraction=1.0):
        hw = hardware(chip)
        loss = quality_loss(quality)
        n_min = FIT.min_params(loss)
        n_c, d_c = FIT.isoloss_optimum(loss)
        n = np.geomspace(n_min * 1.02, 4 * n_c, 200)
        d = FIT.tokens_for_loss(n, loss)
        kw = dict(train_mfu=train_mfu, decode_mfu=decode_mfu, rl_tokens=rl_tokens,
                  rl_trained_fraction=rl_trained_fraction)
        life = lt.lifetime_compute(n, d, served, hw, **kw)
        hours = {k: np.asarray(getattr(life, k)) / 3600 for k in ("pretraining", "rl", "inference")}
        hours["total"] = np.asarray(life.total) / 3600
        for k, line in self.lines.items():
            line.set_data(n, hours[k])
        opt = lt.lifetime_optimum(loss, served, hw, fit=FIT, **kw)
        self.best.set_xdata([opt.params, opt.params])
        chin = lt.lifetime_compute(n_c, d_c, served, hw, **kw)
        self.chin.set_data([n_c], [chin.total / 3600])
        # Ranges depend on quality and chip only, so moving the other sliders just blits the lines.
        self.ax.set_xlim(*decade_limits(n[0], n[-1]))
        self.ax.set_ylim(*self._y_range(float(n_c), float(d_c), hw))
        sh = opt.cost.shares
        return (f"Same loss as a {fmt_count(quality)}-parameter model at 20 tokens/param. Cheapest: "
                f"<b>{fmt_count(opt.params)} parameters on {_count(opt.tokens, 'tokens')}</b> "
                f"(<b>{_times(opt.overtraining)}x</b> past Chinchilla), {opt.cost.chip_hours():.3g} {hw.name}-hours: "
                f"pretraining {sh['pretraining']:.0%}, RL {sh['rl']:.0%}, inference {sh['inference']:.0%}. "
                f"The compute-optimal {fmt_count(n_c)} model would cost <b>{chin.total / opt.cost.total:.2f}x</b> as much.")


def lifetime_explorer(quality=70e9, served=1e14, rl_tokens=1e12, train_mfu=0.35, decode_mfu=0.14, chip="H100 SXM",
                      rl_trained_fraction=1.0):
    """Sliders for quality, tokens served, RL tokens (and the share trained on) and the two MFUs
    -> lifetime cost vs model size."""
    controls = {
        "quality": _quality_slider(quality),
        "served": widgets.FloatLogSlider(value=served, base=10, min=11, max=np.log10(SERVED_MAX), step=0.1, readout_format=".2g",
                                         description="tokens served (life)", style=_STYLE, layout=_LAYOUT),
        "rl_tokens": widgets.FloatLogSlider(value=rl_tokens, base=10, min=8, max=14, step=0.1, readout_format=".2g",
                                            description="RL rollout tokens", style=_STYLE, layout=_LAYOUT),
        "rl_trained_fraction": widgets.FloatSlider(value=rl_trained_fraction, min=0.0, max=1.0, step=0.05,
                                                   description="RL tokens trained on", style=_STYLE, layout=_LAYOUT),
        "train_mfu": _mfu_slider("training MFU", train_mfu),
        "decode_mfu": _mfu_slider("decode MFU", decode_mfu),
        "chip": widgets.Dropdown(options=list(CHIPS), value=hardware(chip).name, description="chip",
                                 style=_STYLE, layout=_LAYOUT),
    }
    return LifetimeExplorer(controls)


class OvertrainingExplorer(Explorer):
    live_grid = {"months": [1, 6, 12, 24, 36], "quality": [8e9, 70e9, 400e9, 2e12],
                 "train_mfu": [0.2, 0.35, 0.5], "decode_mfu": [0.05, 0.14, 0.3]}

    def setup(self):
        ax = self.ax = self.fig.subplots()
        self.fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.95)
        greys = ["0.35", "0.5", "0.65", "0.8"]
        for (name, k), grey in zip(PUBLISHED.items(), greys):
            ax.axhline(k, color=grey, lw=0.8)
            ax.text(RATES[0] * 1.3, k * 1.08, f"{name}: {k:.0f}x", fontsize=7, color="0.3")
        for name, r in RATE_MARKS.items():
            ax.axvline(r, color=OKABE_ITO["sky"], lw=1)
            ax.text(r * 0.85, 3e4, name, fontsize=7, color="0.3", ha="right", va="top", rotation=90)
        ax.axhline(1, color=OKABE_ITO["orange"], lw=1, ls=":")
        self.opt = ax.plot([1], [1], color=OKABE_ITO["black"], lw=2.2, label="cheapest model (loss fit)")[0]
        self.bal = ax.plot([1], [1], color=OKABE_ITO["vermillion"], lw=1.8, ls="--",
                           label="rule of thumb: pretraining = serving")[0]
        style_axes(ax, log="xy", xlim=(RATES[0], RATES[-1]), ylim=FACTOR_RANGE,
                   xlabel="serving rate (generated tokens per second, whole deployment)",
                   ylabel="over-training factor D / (20 N)", legend="upper left")
        self.animated = [self.opt, self.bal]

    def draw(self, months, quality, train_mfu, decode_mfu):
        loss = quality_loss(quality)
        served = RATES * months * tr.MONTH
        kw = dict(train_mfu=train_mfu, decode_mfu=decode_mfu)
        opt = lt.lifetime_optimum(loss, served, fit=FIT, **kw)
        self.opt.set_data(RATES, np.asarray(opt.overtraining))
        d_bal = np.asarray(lt.balanced_pretraining_tokens(served, **kw))
        d_c = FIT.isoloss_optimum(loss)[1]
        ok = d_bal >= d_c  # below the compute-optimal tokens the rule would mean under-training
        n_bal = np.asarray(FIT.params_for_loss(np.where(ok, d_bal, d_c), loss))
        k_bal = np.where(ok, d_bal / (tr.CHINCHILLA_TOKENS_PER_PARAM * n_bal), np.nan)
        self.bal.set_data(RATES, k_bal)
        i = int(np.argmin(np.abs(np.log(RATES / RATE_MARKS["DeepSeek output, Feb 2025"]))))
        return (f"Quality of a {fmt_count(quality)}-parameter Chinchilla model, deployed {months} months. "
                f"At {fmt_count(RATES[i])} tokens/s ({_count(served[i], 'tokens')} in all), the cheapest model "
                f"has <b>{fmt_count(np.asarray(opt.params)[i])} parameters</b> trained <b>"
                f"{_times(np.asarray(opt.overtraining)[i])}x</b> past Chinchilla; serving is "
                f"{np.asarray(opt.elasticity)[i]:.2g}x its pretraining cost.")


def overtraining_explorer(months=12, quality=400e9, train_mfu=0.35, decode_mfu=0.14):
    """Sliders for deployment length, quality and MFUs -> over-training factor vs serving rate."""
    controls = {
        "months": widgets.IntSlider(value=months, min=1, max=36, description="deployment (months)",
                                    style=_STYLE, layout=_LAYOUT),
        "quality": _quality_slider(quality),
        "train_mfu": _mfu_slider("training MFU", train_mfu),
        "decode_mfu": _mfu_slider("decode MFU", decode_mfu),
    }
    return OvertrainingExplorer(controls)


#: For `make bench`: how to build the lifetime explorer and which slider moves to time.
BENCH = {
    "factory": lifetime_explorer,
    "updates": [dict(served=s) for s in (1e12, 3e12, 1e13, 3e13, 1e15, 1e16)]
    + [dict(rl_tokens=r) for r in (1e10, 1e13)] + [dict(rl_trained_fraction=f) for f in (0.5, 0.0)]
    + [dict(decode_mfu=m) for m in (0.1, 0.4)]
    + [dict(train_mfu=0.5), dict(quality=400e9)],
}
#: The same for the over-training explorer (benchmarks/run.py reads BENCH; this one is listed
#: in BENCHES for a runner that reads several per module).
BENCH_OVERTRAINING = {
    "factory": overtraining_explorer,
    "updates": [dict(months=m) for m in (1, 3, 24, 36)] + [dict(quality=q) for q in (8e9, 70e9, 2e12)]
    + [dict(decode_mfu=m) for m in (0.1, 0.5)],
}
BENCHES = {"lifetime": BENCH, "overtraining": BENCH_OVERTRAINING}
