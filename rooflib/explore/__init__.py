"""Interactive explorers: one function per chapter returns a ready-to-display widget.

Each explorer is tested code: its `update(**values)` recomputes with rooflib and redraws one
matplotlib Figure into an image widget, so a slider move costs one vectorised rooflib call and one
PNG render (measured by `make bench`). Figures are `matplotlib.figure.Figure` objects, never
pyplot's, so nothing is displayed twice in a notebook.
"""
from .base import Explorer
from .batching import batching_explorer
from .kv_cache import kv_capacity_explorer, kv_designs_explorer, kv_latency_explorer
from .memory_trade import memory_trade_explorer
from .moe import fit_explorer, moe_step_explorer, sparsity_explorer
from .overtraining import lifetime_explorer, overtraining_explorer
from .prices import price_step_explorer, tier_explorer
from .reality import reality_explorer
from .service import frontier_explorer, load_explorer
from .pipeline import decode_latency_explorer, schedule_explorer, stage_memory_explorer

__all__ = ["Explorer", "batching_explorer", "kv_capacity_explorer", "kv_designs_explorer", "kv_latency_explorer",
           "decode_latency_explorer", "schedule_explorer", "stage_memory_explorer",
           "fit_explorer", "moe_step_explorer", "sparsity_explorer", "lifetime_explorer", "overtraining_explorer",
           "price_step_explorer", "tier_explorer",
           "memory_trade_explorer", "reality_explorer", "frontier_explorer", "load_explorer"]
