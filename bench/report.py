"""Prints bench/run.sh's JSON lines as a table; throughput also as a fraction of the compute
ceiling measured in the same run (sgemm GFLOP/s / FLOPs per token position)."""
import json
import os
import sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    sgemm = next(r["gflops"] for r in rows if r["bench"] == "sgemm")
    by_model = {}
    for r in rows:
        if "model" in r:
            by_model.setdefault(r["model"], {})[r["bench"]] = r
    print()
    print("OpenBLAS sgemm on all cores: %.1f GFLOP/s" % sgemm)
    print()
    header = ("model", "load s", "core tok/s", "SQL tok/s", "% ceiling", "% LSTM ceiling",
              "embed ms", "cold ms", "peak RSS MiB", "RSS/weights")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for model, r in by_model.items():
        load, core, sql, lat = r["load"], r["core-batch"], r["sql-batch"], r["sql-latency"]
        ceiling = sgemm * 1e3 / load["mflop_per_position"]  # positions per second
        lstm_ceiling = sgemm * 1e3 / load["lstm_mflop_per_position"]
        pos_rate = sql["positions"] / sql["seconds"]
        peak = max(core["peak_rss_mib"], sql["peak_rss_mib"])
        print("| %s | %.2f | %.0f | %.0f | %.0f %% | %.0f %% | %.1f | %.1f | %.0f | %.2f |" % (
            os.path.basename(model), load["seconds"], core["tokens_per_s"],
            sql["tokens_per_s"], 100 * pos_rate / ceiling, 100 * pos_rate / lstm_ceiling,
            lat["median_ms"], lat["first_ms"], peak, peak / load["weight_mib"]))
    print_peaks(rows)
    print()
    print("tok/s counts tokens (boundaries excluded). % ceiling: SQL token positions/s "
          "(boundaries included) over sgemm GFLOP/s / MFLOP per position of every stage "
          "(Original: 204.3); the char-CNN cache skips the context-free stages for known "
          "tokens, so this can pass 100 %. % LSTM ceiling counts the LSTM FLOPs alone "
          "(Original: 151.0 MFLOP per position), which every position must pay.")
    print("embed ms: median elmo_embed of a 20-token sentence, char-CNN cache warm; cold: the "
          "first call.")
    for model, r in by_model.items():
        if "cli-embed" in r:
            c = r["cli-embed"]
            print("elmo embed (%s, %d rows, whole command): %.0f rows/s, %.0f tokens/s" % (
                os.path.basename(model), c["rows"], c["rows_per_s"], c["tokens_per_s"]))


def print_peaks(rows):
    """The machine's limits (peak-fma, peak-bf16, dram) and elmo_gemm against them."""
    peaks = {(r["bench"], r["threads"]): r for r in rows
             if r["bench"] in ("peak-fma", "peak-bf16", "dram")}
    if not peaks:
        return
    print()
    print("| threads | FMA GFLOP/s | BF16 GFLOP/s | DRAM GB/s |")
    print("|---|---|---|---|")
    for t in sorted({t for _, t in peaks}):
        def get(bench, key):
            r = peaks.get((bench, t), {})
            return "%.0f (%.0f)" % (r.get(key, 0), r.get(key + "_wall", 0))
        print("| %d | %s | %s | %s |" % (t, get("peak-fma", "gflops"), get("peak-bf16", "gflops"),
                                         get("dram", "gb_per_s")))
    print("Fastest round in thread CPU time (in wall time): on a shared machine the first "
          "leaves out other processes' time slices, the second includes them.")
    gemms = [r for r in rows if r["bench"] == "gemm"]
    if not gemms:
        return
    print()
    print("| precision | threads | M x K x N | GFLOP/s | median | % peak | OpenBLAS sgemm GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    for r in gemms:
        peak_name = "peak-fma" if r["precision"] == "fp32" else "peak-bf16"
        peak = peaks.get((peak_name, r["threads"]), {}).get("gflops", 0)
        print("| %s | %d | %dx%dx%d | %.0f | %.0f | %s | %.0f |" % (
            r["precision"], r["threads"], r["M"], r["K"], r["N"], r["gflops"],
            r.get("gflops_median", 0),
            "%.0f %%" % (100 * r["gflops"] / peak) if peak else "-",
            r.get("openblas_sgemm_gflops", 0)))
    print("elmo_gemm: the engine's packed-weight products, each thread its own rows, the "
          "weights rotating over copies larger than the cache (fastest and median round in "
          "CPU time; the JSON also has wall time); % peak against the same run's FMA or BF16 "
          "peak. "
          "M = 1 streams the weights, so it is bound by memory (DRAM column), not FLOPs.")


if __name__ == "__main__":
    main(sys.argv[1])
