"""Prints bench/run.sh's JSON lines as tables. Every figure is also given against this
machine's limits measured in the same run: the 512-bit FMA, vdpbf16ps and AMX tdpbf16ps
peaks (GFLOP/s, registers only, fastest round in thread CPU time) and DRAM read bandwidth
(GB/s, wall time). A product or a model is set against the peak of the kernel it ran on
(fp32 kernels: FMA; avx512-bf16: vdpbf16ps; amx-bf16: AMX), and only work actually done is
counted, so no figure can exceed a physical peak."""
import json
import os
import sys

PEAK_OF_KERNEL = {"avx512-fp32": "peak-fma", "avx2-fp32": "peak-fma", "portable": "peak-fma",
                  "avx512-bf16": "peak-bf16", "amx-bf16": "peak-amx"}


def pct(x):
    return "%.0f %%" % (100 * x)


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    limits = {}
    for r in rows:
        if r["bench"] in ("peak-fma", "peak-bf16", "peak-amx", "dram"):
            limits.setdefault(r["threads"], {})[r["bench"]] = r

    def peak(threads, kernel):
        got = limits.get(threads, {}).get(PEAK_OF_KERNEL.get(kernel, "peak-fma"), {})
        return got.get("gflops") or 0

    sgemm = next((r["gflops"] for r in rows if r["bench"] == "sgemm"), 0)
    print()
    print("This machine's limits, measured in this run:")
    print()
    table(("threads", "512-bit FMA GFLOP/s", "vdpbf16ps GFLOP/s", "AMX tdpbf16ps GFLOP/s",
           "DRAM read GB/s"),
          [(str(t), "%.0f" % l["peak-fma"]["gflops"], "%.0f" % l["peak-bf16"]["gflops"],
            "%.0f" % l.get("peak-amx", {}).get("gflops", 0),
            "%.1f" % l["dram"]["gb_per_s_wall"]) for t, l in sorted(limits.items())])
    print("OpenBLAS sgemm on all cores ([256, 512] x [512, 16384], its own threads): "
          "%.0f GFLOP/s." % sgemm)

    gemms = [r for r in rows if r["bench"] == "gemm" and r.get("gflops")]
    if gemms:
        print()
        print("elmo_gemm (packed weights larger than the cache; each thread its own rows), "
              "against oneDNN's matmul (weights packed once; bf16 converting A, as ours) and "
              "OpenBLAS sgemm on the same shape, same run:")
        print()
        out = []
        for r in gemms:
            p = peak(r["threads"], r["kernel"])
            gb = r["gflops"] * 1e9 / (2 * r["M"]) * (4 if r["precision"] == "fp32" else 2) / 1e9
            dnn = r.get("onednn_gflops", 0)
            out.append((r["precision"], r["kernel"], str(r["threads"]),
                        "%dx%dx%d" % (r["M"], r["K"], r["N"]), "%.0f" % r["gflops"],
                        pct(r["gflops"] / p) if p else "", "%.1f" % gb if r["M"] == 1 else "",
                        "%.0f" % dnn, "%.2f" % (r["gflops"] / dnn) if dnn else "",
                        "%.0f" % r.get("openblas_sgemm_gflops", 0)))
        table(("precision", "kernel", "threads", "M x K x N", "GFLOP/s", "of peak",
               "weights GB/s", "oneDNN", "ours / oneDNN", "OpenBLAS sgemm"), out)
        impls = sorted({(r["precision"], r.get("onednn_impl", "")) for r in gemms})
        print("oneDNN implementations: " + ", ".join("%s %s" % i for i in impls) + ".")

    language_model(rows, limits)

    for r in rows:
        if r["bench"] == "load" and r["model"].endswith(".safetensors"):
            print()
            print("Load of %s (%s, the project's own parser): %.2f s, peak RSS %.0f MiB." % (
                os.path.basename(r["model"]), r["precision"], r["seconds"], r["rss_after_mib"]))
    models = {}
    for r in rows:
        if r["bench"].startswith("lm-"):
            continue  # the language model's table
        if "model" in r and "precision" in r and not r["model"].endswith(".safetensors"):
            key = (os.path.basename(r["model"]), r["precision"])
            models.setdefault(key, []).append(r)
    if not models:
        return
    fp32_weights = {m: next(r["weight_mib"] for r in rs if r["bench"] == "load")
                    for (m, p), rs in models.items() if p == "fp32"}

    def one(rs, bench, threads=None):
        for r in rs:
            if r["bench"] == bench and (threads is None or r.get("threads") == threads):
                return r
        return None

    corpus = next((r.get("corpus") for r in rows if r.get("corpus")), "synthetic")
    print()
    print("Batch embedding on %s (tokens/s; boundaries excluded). 'GFLOP/s' is the work done: "
          "every position's LSTM FLOPs plus the char-CNN FLOPs of the tokens the cache did "
          "not know (a cold cache: each distinct token once); 'of peak' sets it against the "
          "peak of the model's kernel for the same thread count:" % corpus)
    print()
    out = []
    for (m, p), rs in models.items():
        load = one(rs, "load")
        for t in (1, 2):
            core = one(rs, "core-batch", t)
            if not core or not load:
                continue
            kernel = load.get("model_kernel", load.get("kernel", ""))
            flops = (core["positions"] * load["lstm_mflop_per_position"] +
                     core.get("cnn_tokens", 0) * load.get("cnn_mflop_per_token", 0)) * 1e6
            gflops = flops / core["seconds"] / 1e9
            pk = peak(t, kernel)
            sql = one(rs, "sql-batch", t)
            cli = one(rs, "cli-embed", t)
            out.append((m, p, kernel, str(t), "%.0f" % core["tokens_per_s"],
                        "%.0f" % sql["tokens_per_s"] if sql else "",
                        "%.0f" % cli["tokens_per_s"] if cli else "",
                        "%.2f" % (cli["tokens_per_s"] / sql["tokens_per_s"]) if cli and sql else "",
                        "%.0f" % gflops, pct(gflops / pk) if pk else ""))
    table(("model", "precision", "kernel", "threads", "C API", "elmo_batch", "elmo embed",
           "embed / batch", "GFLOP/s", "of peak"), out)

    for (m, p), rs in models.items():
        d = one(rs, "dask-embed")
        if d:
            print()
            print("Dask recipe, %s %s, %d worker processes x 1 thread: %.0f rows/s, %.0f "
                  "tokens/s (partitions, part files and merge; not the cluster's start)." % (
                      m, p, d["workers"], d["rows_per_s"], d["tokens_per_s"]))
    print()
    print("Latency of SELECT elmo_embed(?) on a 20-token sentence (median of 21, char-CNN cache "
          "warm; cold: the first call). Memory floor: the weights one sentence must stream "
          "(the recurrent and projection matrices once per position, the input matrices once "
          "per layer) at the DRAM rate of the same thread count; load, memory:")
    print()
    out = []
    for (m, p), rs in models.items():
        load = one(rs, "load")
        for t in (1, 2):
            lat = one(rs, "sql-latency", t)
            if not lat or not load:
                continue
            mib = (lat["tokens"] + 2) * load["stream_mib_per_position"] + load["input_mib"]
            floor_ms = mib * (1 << 20) / (limits[t]["dram"]["gb_per_s_wall"] * 1e9) * 1e3
            peak_rss = max(r.get("peak_rss_mib", 0) for r in rs)
            out.append((m, p, load.get("model_kernel", ""), str(t), "%.1f" % lat["median_ms"],
                        "%.1f" % lat["first_ms"], "%.1f" % floor_ms,
                        "%.2f" % (lat["median_ms"] / floor_ms), "%.2f" % load["seconds"],
                        "%.0f" % load["weight_mib"], "%.0f" % peak_rss,
                        "%.2f" % (peak_rss / fp32_weights[m]) if m in fp32_weights else ""))
    table(("model", "precision", "kernel", "threads", "embed ms", "cold ms", "floor ms",
           "x floor", "load s", "weights MiB", "peak RSS MiB", "RSS / fp32 weights"), out)


def language_model(rows, limits):
    """The language-model figures against their targets (2 threads)."""
    lm = [r for r in rows if r["bench"].startswith("lm-")]
    if not lm:
        return
    load = next((r for r in lm if r["bench"] == "lm-load"), None)
    mflop = next((r["mflop_per_position"] for r in rows if r["bench"] == "load" and
                  os.path.basename(r["model"]) == "original"), None)
    dram = limits.get(2, {}).get("dram", {}).get("gb_per_s_wall")
    print()
    print("Language model (Original shape, a generated head of %s words, 2 threads). Bounds: "
          "each stage's roofline, the larger of its FLOPs at elmo_gemm's rate over the same "
          "head (lm-gemm, M rows) and its bytes at the DRAM rate (the biLM of one sentence: "
          "the weights it streams, as in the latency table; the head: its packed bytes); the "
          "biLM alone is elmo_embed of the same text:" % (
              "{:,}".format(load["vocab_size"]) if load else "?"))
    print()
    out = []
    for p in ("fp32", "bf16"):
        def one(bench, **kw):
            return next((r for r in lm if r["bench"] == bench and r["precision"] == p and
                         all(r.get(k) == v for k, v in kw.items())), None)
        ppl, bulk, pred = one("lm-ppl"), one("lm-bulk"), one("lm-predict")
        g42, g128 = one("lm-gemm", M=42), one("lm-gemm", M=128)
        if ppl and g42 and dram:
            # A perplexity runs two stages one after the other, each bounded by its own
            # roofline: the biLM of one sentence streams its weights (the latency table's
            # floor), the head's product is compute-bound at this row count.
            positions = ppl["tokens"] + 2
            model_load = next((r for r in rows if r["bench"] == "load" and r["precision"] == p
                               and os.path.basename(r["model"]) == "original"), None)
            bilm_ms = 0
            if model_load:
                mib = positions * model_load["stream_mib_per_position"] + model_load["input_mib"]
                bilm_ms = max(mib * (1 << 20) / (dram * 1e9) * 1e3,
                              positions * (mflop or 0) / 1e3 / g42["gflops"] * 1e3)
            head_ms = max(ppl["head_gflop"] / g42["gflops"] * 1e3,
                          ppl["head_mib"] * (1 << 20) / (dram * 1e9) * 1e3)
            bound = bilm_ms + head_ms
            out.append(("20-token elmo_perplexity, %s" % p, "%.1f ms (biLM %.1f ms)" % (
                ppl["median_ms"], ppl["bilm_ms"]), "%.1f ms: biLM %.1f + head %.1f" % (
                bound, bilm_ms, head_ms), "%.2f x bound; head alone %.2f x its own" % (
                ppl["median_ms"] / bound, (ppl["median_ms"] - ppl["bilm_ms"]) / head_ms),
                "<= 1.3 x"))
        if bulk and g128:
            out.append(("elmo_batch perplexities, %s" % p, "%.0f GFLOP/s (%.0f tokens/s)" % (
                bulk["head_gflops"], bulk["tokens_per_s"]), "%.0f GFLOP/s elmo_gemm M=128"
                % g128["gflops"], "%.2f of it" % (bulk["head_gflops"] / g128["gflops"]),
                ">= 0.7"))
        if pred:
            out.append(("elmo_predict, vocab_limit 50,000 vs all, %s" % p, "%.1f vs %.1f ms" % (
                pred["limit50k_ms"], pred["full_ms"]), "biLM %.1f ms" % pred["bilm_ms"],
                "%.1f x faster; head alone %.1f x" % (
                    pred["full_ms"] / pred["limit50k_ms"],
                    (pred["full_ms"] - pred["bilm_ms"]) / max(
                        pred["limit50k_ms"] - pred["bilm_ms"], 1e-3)), ">= 10 x"))
        if ppl:
            floor = ppl["weight_mib"] + ppl["head_mib"]
            out.append(("memory, %s" % p, "peak RSS %.0f MiB" % ppl["peak_rss_mib"],
                        "model + head %.0f MiB" % floor, "%.2f x" % (ppl["peak_rss_mib"] / floor),
                        "<= 1.15 x"))
    if load:
        out.append(("load of the head", "HDF5 %.2f s, safetensors %.2f s" % (
            load["hdf5_head_s"], load["safetensors_head_s"]), "(model alone: %.2f s, %.2f s)" % (
            load["model_s"], load["safetensors_model_s"]), "", "<= 3 s, <= 1.5 s"))
    table(("figure", "measured", "bound", "ratio", "target"), out)


if __name__ == "__main__":
    main(sys.argv[1])
