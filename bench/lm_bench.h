/* lm_bench.h - the language-model measurements of elmo-bench (one per process, a JSON line
 * each), on a model directory holding options.json, weights.hdf5, softmax_weights.hdf5 and
 * vocab.txt (elmo-genmodel --vocab-size), and DIR.lm.safetensors (the same, converted):
 *
 *   lm-load DIR                  load of the model alone, with the HDF5 head, and of the
 *                                one-file safetensors (each best of 2)
 *   lm-gemm DIR M                elmo_gemm over the head's packed blocks, [M, P] x [P, V]
 *   lm-ppl EXT DIR               SELECT elmo_perplexity(20-token sentence): median of 11,
 *                                the biLM alone (elmo_embed of it), peak RSS
 *   lm-bulk EXT DIR N            elmo_batch(..., '{"output":"perplexity"}') over N sentences
 *                                (of --text, else the synthetic corpus)
 *   lm-predict EXT DIR           elmo_predict(text, 10) with the whole vocabulary and with
 *                                vocab_limit 50,000, and the biLM alone on the same text
 */
#ifndef ELMO_BENCH_LM_BENCH_H
#define ELMO_BENCH_LM_BENCH_H

/* Runs one lm-* command (argv[0] is its name) with elmo-bench's --precision, --threads and
 * --text (NULL: the synthetic corpus; lm-bulk's sentences); returns the exit status, or -1
 * when argv is not an lm-* command. */
int bench_lm(int argc, char **argv, int precision, int threads, const char *text_path);

#endif
