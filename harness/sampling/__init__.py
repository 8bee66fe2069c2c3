"""Sampling pools: the sampling config, the backends (simulated, OpenAI-compatible, vLLM),
postprocessing and compute accounting. The research loop calls the two entry points::

    spec = SamplingSpec(load_sampling_config(Path("experiments/sampling.toml")), run.sampler)
    result = sample_pool(suite, spec, limit=None, cache=cache_dir(), sandbox=None)
    result.pool.id, result.compute.generated_tokens, result.calls

``run.sampler`` is the run config's ``[sampler]`` (``harness.config.SamplerConfig``): which model
is sampled and where; ``experiments/sampling.toml`` says only how.
"""

from harness.sampling.config import (
    SamplingConfig,
    SamplingSpec,
    SelfTestConfig,
    load_sampling_config,
)
from harness.sampling.results import SampleResult, SamplingCompute, SamplingError
from harness.sampling.sampler import sample_pool, sampling_key

__all__ = [
    "SampleResult",
    "SamplingCompute",
    "SamplingConfig",
    "SamplingError",
    "SamplingSpec",
    "SelfTestConfig",
    "load_sampling_config",
    "sample_pool",
    "sampling_key",
]
