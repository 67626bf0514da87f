"""Training compute: 6 N D, and Chinchilla's compute-optimal tokens per parameter.

A forward pass costs 2 FLOPs per parameter per token (multiply and add). The backward pass costs
twice that: one product for the gradient with respect to the activations (to pass back) and one
for the gradient with respect to the weights (to update them). 2 + 4 = 6 FLOPs per parameter per
token, so training N parameters on D tokens costs about 6 N D FLOPs.
"""
from __future__ import annotations

from .errors import positive, scalar_or_array

#: Hoffmann et al. 2022 ("Chinchilla", arXiv:2203.15556), Table 3: compute-optimal training uses
#: about 20 tokens per parameter (20.0x at 400M params up to 21.6x at 10T).
CHINCHILLA_TOKENS_PER_PARAM = 20.0


def chinchilla_tokens(params):
    """Compute-optimal training tokens for `params` parameters: about 20 per parameter."""
    return scalar_or_array(CHINCHILLA_TOKENS_PER_PARAM * positive("params", params))


def training_flops(params, tokens):
    """Training FLOPs = 6 N D (2 forward + 4 backward per parameter per token)."""
    return scalar_or_array(6.0 * positive("params", params) * positive("tokens", tokens))


def inference_flops_per_token(active_params):
    """Decode FLOPs per generated token = 2 N_active."""
    return scalar_or_array(2.0 * positive("active_params", active_params))
