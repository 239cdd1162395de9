/* bilstm.h - stage 2 of a run: layers 1..L, the LSTMs in both directions, with the state
 * a stream carries between runs and the sink told as each layer finishes. */
#ifndef ELMO_CORE_BILSTM_H
#define ELMO_CORE_BILSTM_H

#include <stddef.h>

#include "elmo.h"
#include "model.h"
#include "parallel.h"
#include "result.h"

/* Told by the LSTM stage that layer k (1..L) of direction dir (0 forward, 1 backward) of
 * sentence i is complete. Called from worker threads; calls for the two directions of a
 * sentence may run at the same time (each reads only its own half of the rows). */
typedef struct elmo_layer_sink {
    void (*layer_done)(void *arg, const elmo_result *r, size_t i, int k, int dir);
    void *arg;
} elmo_layer_sink;

/* Carried LSTM state of one stream. */
struct elmo_stream {
    const elmo_model *model;
    float *h; /* [L, 2, P] final projected output per layer and direction */
    float *c; /* [L, 2, H] final memory cell per layer and direction */
};

/* Stage 2: fills layers 1..L by running both LSTM directions over every sentence. */
int elmo_fill_lstm_layers(const elmo_model *m, elmo_result *r, elmo_stream *const *streams,
                          const elmo_layer_sink *sink, int n_threads, elmo_cancel *cancel,
                          elmo_error *err);

#endif
