"""Moonshine base as `moonshine-cpp` ships it, rewritten once into ONNX that runs fast on one CPU thread.

`moonshine-cpp` 0.1.4 (MIT, code and weights) ships Moonshine base (English) as two ORT-format files. Their weights
are int8 and are turned back into floats at every run (a Cast, Mul and Add per weight, 81 in the decoder); the
decoder is a merged graph (an `If` between its first step and the steps with a cache) that also transposes the
output projection at every step. As shipped, a decoder step took about 55 ms here (issue 22). The rewrite:

- every weight unpacked once (the same floats: the shipped model's arithmetic);
- the decoder's cached branch alone, the transpose of the output projection folded;
- the cross-attention keys and values left to the recognizer (their 16 projections are plain matmuls of the
  encoder's output, kept in `cross_kv.npz`), so one decoder graph runs from the first token on;
- the matmuls of `int8` parts quantized dynamically by onnxruntime (int8 weights per output channel, int8
  activations per tensor), which halves the decode time. The choice was made on the tune half (BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

INT8_PARTS = ("encoder", "decoder")


def _fold_dequantize(graph) -> int:
    """Replace each Cast -> Mul(scale) -> Add(zero point) of an int8 initializer by the float initializer it makes."""
    from onnx import numpy_helper

    inits = {t.name: t for t in graph.initializer}
    made = {o: n for n in graph.node for o in n.output}
    floats, dropped = {}, set()
    for add in graph.node:
        mul = made.get(add.input[0]) if add.op_type == "Add" else None
        cast = made.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
        if cast is None or cast.op_type != "Cast" or not {cast.input[0], mul.input[1], add.input[1]} <= inits.keys():
            continue
        q = numpy_helper.to_array(inits[cast.input[0]]).astype(np.float32)
        w = q * numpy_helper.to_array(inits[mul.input[1]]) + numpy_helper.to_array(inits[add.input[1]])
        floats[add.output[0]] = w.astype(np.float32)
        dropped |= {id(add), id(mul), id(cast)}
    kept = [n for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(kept)
    _prune_initializers(graph)
    graph.initializer.extend(numpy_helper.from_array(w, name) for name, w in floats.items())
    return len(floats)


def _used_names(graph) -> set[str]:
    import onnx

    used = {o.name for o in graph.output}
    for n in graph.node:
        used |= set(n.input)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                used |= _used_names(a.g)
    return used


def _prune_initializers(graph) -> None:
    used = _used_names(graph)
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _fold_transposes(graph) -> int:
    """A Transpose of an initializer (the tied output projection) becomes the transposed initializer."""
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in graph.initializer}
    folded = []
    for n in graph.node:
        if n.op_type == "Transpose" and n.input[0] in inits:
            perm = next((helper.get_attribute_value(a) for a in n.attribute if a.name == "perm"), None)
            w = numpy_helper.to_array(inits[n.input[0]])
            folded.append((n, numpy_helper.from_array(np.ascontiguousarray(w.transpose(perm)), n.output[0])))
    for n, t in folded:
        graph.node.remove(n)
        graph.initializer.append(t)
    _prune_initializers(graph)
    return len(folded)


def _plain_onnx(ort_file: Path, out: Path) -> None:
    """An ORT-format model written back as ONNX, unoptimised (onnxruntime serialises what it loaded)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.optimized_model_filepath = str(out)
    ort.InferenceSession(str(ort_file), so, providers=["CPUExecutionProvider"])


def _standard_opsets(model) -> None:
    keep = [o for o in model.opset_import if o.domain in ("", "com.microsoft")]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def _cached_branch(model):
    """The merged decoder's branch for the steps with a cache, as a graph of its own (encoder keys as inputs)."""
    import onnx
    from onnx import helper

    g = model.graph
    branch_if = next(n for n in g.node if n.op_type == "If")
    sub = next(a.g for a in branch_if.attribute if a.name == "then_branch")  # use_cache_branch = true
    names = dict(zip((o.name for o in sub.output), branch_if.output, strict=True))
    nodes = list(sub.node)
    for n in nodes:
        n.output[:] = [names.get(o, o) for o in n.output]
    made = {o for n in nodes for o in n.output}
    used = set().union(*(set(n.input) for n in nodes))
    outputs = []
    for out in g.output:  # the encoder's keys pass through this branch unchanged: not outputs here
        if out.name in made:
            v = onnx.ValueInfoProto()
            v.CopyFrom(out)
            outputs.append(v)
    graph = helper.make_graph(nodes, "moonshine_decoder_cached", [i for i in g.input if i.name in used], outputs,
                              [t for t in g.initializer if t.name in used] + list(sub.initializer))
    out = helper.make_model(graph, opset_imports=list(model.opset_import))
    out.ir_version = model.ir_version
    return out


def _cross_projections(model) -> dict[str, np.ndarray]:
    """The cross-attention key and value weights of each layer, by the cache input they fill."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    branch_if = next(n for n in model.graph.node if n.op_type == "If")
    first = next(a.g for a in branch_if.attribute if a.name == "else_branch")
    out = {}
    for n in first.node:
        if n.op_type == "MatMul" and "/encoder_attn/" in n.name and n.name.endswith(("k_proj/MatMul", "v_proj/MatMul")):
            if n.input[0] != "encoder_hidden_states":
                raise ValueError(f"not a Moonshine decoder this rewrite knows: {n.name} reads {n.input[0]}")
            layer = int(n.name.split("layers.")[1].split("/")[0])
            kind = "key" if "k_proj" in n.name else "value"
            out[f"past_key_values.{layer}.encoder.{kind}"] = numpy_helper.to_array(inits[n.input[1]])
    return out


def export(src: Path, to: Path, int8: tuple[str, ...] = INT8_PARTS, per_channel: bool = True) -> None:
    """Write `encoder.onnx`, `decoder.onnx`, `cross_kv.npz` and `tokenizer.bin` of the model in `src` (the
    `moonshine-cpp` folder of one model: `encoder_model.ort`, `decoder_model_merged.ort`, `tokenizer.bin`) to `to`."""
    import tempfile

    import onnx

    to.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("encoder_model", "decoder_model_merged"):
            _plain_onnx(src / f"{part}.ort", Path(tmp) / f"{part}.onnx")
        enc = onnx.load(Path(tmp) / "encoder_model.onnx")
        _fold_dequantize(enc.graph)
        _standard_opsets(enc)
        dec = onnx.load(Path(tmp) / "decoder_model_merged.onnx")
        _fold_dequantize(dec.graph)
        _standard_opsets(dec)
        np.savez(to / "cross_kv.npz", **_cross_projections(dec))
        cached = _cached_branch(dec)
        _fold_transposes(cached.graph)
        for name, model in (("encoder", enc), ("decoder", cached)):
            path = Path(tmp) / f"{name}.onnx" if name in int8 else to / f"{name}.onnx"
            onnx.save(model, path)
            if name in int8:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                logging.disable(logging.WARNING)  # its advice to pre-process applies to static quantization
                try:
                    quantize_dynamic(path, to / f"{name}.onnx", weight_type=QuantType.QInt8, per_channel=per_channel,
                                     op_types_to_quantize=["MatMul"])
                finally:
                    logging.disable(logging.NOTSET)
    shutil.copy(src / "tokenizer.bin", to / "tokenizer.bin")
    for license_file in (src / "LICENSE", src.parent.parent / "LICENSE"):  # moonshine-cpp's is at its package root
        if license_file.exists():
            shutil.copy(license_file, to / "LICENSE")  # the rewrite is the weights modified: same license
            break


def main(argv: list[str] | None = None) -> int:
    """`python -m optimus_voice.hearing.moonshine_export SRC TO`: the recognizer's rewrite, in a process of its own
    (the rewrite holds several hundred MB that a long-running node would otherwise keep)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m optimus_voice.hearing.moonshine_export SRC_FOLDER OUT_FOLDER", file=sys.stderr)
        return 2
    export(Path(args[0]), Path(args[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
