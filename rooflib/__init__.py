"""rooflib: the roofline economics of large language models, in a library you can read beside the book.

    import rooflib as rl
    h100, llama = rl.hardware("h100"), rl.model("llama-3.1-70b")
    rl.critical_intensity(h100)                           # 295 FLOP/byte
    step = rl.decode_step(llama, h100, batch=64, context=4096, chips=4)
    step.compute, step.weights, step.attention, step.kv, step.comm, step.time, step.bound
    rl.decode_step(llama, rl.achievable(h100), 64, 4096, chips=4)     # measured, not peak, rates

SI units everywhere (seconds, bytes, FLOP, FLOP/s, bytes/s, dollars); `units.fmt_*` for display.
One module per idea, in the order of the chapters:

    hardware, models      the cited catalogs of chips and models
    formats, achievable   storage vs arithmetic number formats; measured fractions of peak rates
    collectives           all-reduce, all-to-all, point-to-point hops: one cost equation each
    step, attention       one step's parts and how they add up (per phase, or the lecture's ideal)
    roofline              one decode step: compute, weight reads, KV reads, collectives (chapter 1)
    speculative           speculative decoding and multi-token prediction (chapter 1)
    estimate, published   a serving estimate (prefill, decode, overhead) and the published results it is checked on
    kv, context           the KV cache; prefill vs decode; the Goldilocks context (chapter 2)
    moe                   experts touched, all-to-all, expert parallelism (chapter 3)
    pipeline              stages, bubbles, schedules (chapter 4)
    training, lifetime    6ND (+ attention), Chinchilla; lifetime compute (chapter 5)
    prices                dated price sheets and what they imply (chapter 6)
    memory_trade          checkpointing and reversible layers (chapter 7)
    reality               published measurements vs the bound; your machine's roofline (chapter 8)
    service, queueing     the mixed step, disaggregation, the frontier, load -> cost; a seeded
                          simulator of a continuous-batching server (chapter 9)
    serving, energy       train-schedule waits; energy per operation
    plotting, reports     presentation: figures and text reports of what the modules above compute
    explore               the widgets (explorers and the flashcard drill)
    course                the course machinery, imported by nothing above: answer keys, checks and
                          variants for the exercises; flashcards, Leitner boxes, the card evaluator
"""
from .errors import UnknownNameError
from .hardware import CHIPS, Hardware, hardware, rack
from .models import MODELS, Model, model
from .achievable import achievable
from .formats import math_format
from .units import (bytes_per_element, fmt_bandwidth, fmt_bytes, fmt_count, fmt_dollars, fmt_flops,
                    fmt_time)

# chapter 1
from .roofline import (DecodeStep, batch_for_step_time, cost_per_token, critical_intensity, decode_step,
                       max_batch, memory_turnover, optimal_batch, weight_bytes)
from .speculative import expected_tokens_per_step, speculative_step
from .collectives import all_reduce_time
from .estimate import ServingEstimate, serving_estimate
# chapter 2
from .kv import attention_designs, kv_bytes, kv_bytes_per_token, redesign
from .context import (PrefillStep, attention_flops, attention_intensity, cache_equals_weights_context,
                      compute_bound_batch, context_for_kv_bytes, decode_intensity, goldilocks_context,
                      max_context, memory_bound_context, mfu_ceiling, prefill_intensity, prefill_step,
                      recompute_flops, recompute_to_read_ratio, topk_decode_step, topk_read_bytes)
# chapter 3
from .moe import (SCALEOUT_BANDWIDTH, MoEDecodeStep, all_to_all_time, chips_needed, comm_exposed_batch,
                  experts_touched, moe_decode_step, moe_weight_bytes_read, tp_comm_ratio)
# chapter 4
from .pipeline import (bubble_fraction, kv_batch_ceiling, kv_crossover_stages, max_microbatch, min_stages,
                       pipeline_decode, pipeline_schedule, stage_memory)
# chapter 5
from .lifetime import balanced_pretraining_tokens, lifetime_compute, lifetime_optimum
from .training import (chinchilla_optimal, chinchilla_tokens, implied_mfu, inference_flops_per_token,
                       overtraining_factor, training_chip_hours, training_flops, training_flops_per_token,
                       training_time)
# chapter 6
from .prices import PRICE_SHEETS, PriceSheet, implied_kv_bytes_per_token, price_sheet
from .reports import read_price_sheet
# chapter 9
from .service import (cost_per_million_tokens, frontier, kv_transfer_time, mixed_step,
                      prefill_nodes_per_decode_node, speculation_break_even_batch, step_time_table,
                      uncached_prompt_tokens)
from .queueing import simulate, simulate_server

__all__ = [
    # catalogs and units
    "UnknownNameError", "CHIPS", "Hardware", "hardware", "rack", "MODELS", "Model", "model", "achievable",
    "math_format",
    "bytes_per_element", "fmt_bandwidth", "fmt_bytes", "fmt_count", "fmt_dollars", "fmt_flops", "fmt_time",
    # chapter 1
    "DecodeStep", "batch_for_step_time", "cost_per_token", "critical_intensity", "decode_step", "max_batch",
    "memory_turnover", "optimal_batch", "weight_bytes", "expected_tokens_per_step", "speculative_step",
    "all_reduce_time", "ServingEstimate", "serving_estimate",
    # chapter 2
    "attention_designs", "kv_bytes", "kv_bytes_per_token", "redesign", "PrefillStep", "attention_flops",
    "attention_intensity", "cache_equals_weights_context", "compute_bound_batch", "context_for_kv_bytes",
    "decode_intensity", "goldilocks_context", "max_context", "memory_bound_context", "mfu_ceiling",
    "prefill_intensity", "prefill_step", "recompute_flops", "recompute_to_read_ratio", "topk_decode_step",
    "topk_read_bytes",
    # chapter 3
    "SCALEOUT_BANDWIDTH", "MoEDecodeStep", "all_to_all_time", "chips_needed", "comm_exposed_batch",
    "experts_touched", "moe_decode_step", "moe_weight_bytes_read", "tp_comm_ratio",
    # chapter 4
    "bubble_fraction", "kv_batch_ceiling", "kv_crossover_stages", "max_microbatch", "min_stages",
    "pipeline_decode", "pipeline_schedule", "stage_memory",
    # chapter 5
    "balanced_pretraining_tokens", "chinchilla_optimal", "chinchilla_tokens", "implied_mfu",
    "inference_flops_per_token", "lifetime_compute", "lifetime_optimum", "overtraining_factor",
    "training_chip_hours", "training_flops", "training_flops_per_token", "training_time",
    # chapter 6
    "PRICE_SHEETS", "PriceSheet", "implied_kv_bytes_per_token", "price_sheet", "read_price_sheet",
    # chapter 9
    "cost_per_million_tokens", "frontier", "kv_transfer_time", "mixed_step", "prefill_nodes_per_decode_node",
    "speculation_break_even_batch", "step_time_table", "uncached_prompt_tokens", "simulate", "simulate_server",
]
