/* model_head.h - which softmax head a model load takes, and from where (the load
 * parameters softmax_path, vocab_path and skip_head of elmo.h). */
#ifndef ELMO_CORE_MODEL_HEAD_H
#define ELMO_CORE_MODEL_HEAD_H

#include "model.h"
#include "tensor_source.h"

/* Checks the head parameters before anything is read. */
int elmo_model_head_check(const elmo_load_params *p, elmo_error *err);

/* While the model's own source `own` is open: loads the head it holds (softmax/W and b)
 * when the parameters name no separate softmax file, with the vocabulary of vocab_path or
 * the one stored in the file; a file with no vocabulary anywhere gives no head. */
int elmo_model_head_from_model(elmo_model *m, const elmo_load_params *p, elmo_tensor_source *own,
                               elmo_error *err);

/* After the model's source is closed (HDF5 sources hold a process-wide lock): loads the
 * head from p->softmax_path, when given. The vocabulary file is read first: an HDF5 head
 * file (read into memory whole) is refused when it is larger than twice the bytes of W and
 * b for those words plus the slack of any HDF5 file (model_files.h). */
int elmo_model_head_from_file(elmo_model *m, const elmo_load_params *p, elmo_error *err);

#endif
