/* tensor_source.c - name lookups shared by the sources that list their tensors. */
#include "tensor_source.h"

#include <string.h>

int elmo_tensor_names_have(elmo_tensor_name_fn name_at, const void *ctx, int n, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < n; i++) {
        const char *t = name_at(ctx, i);
        if (strncmp(t, name, len) == 0 && (t[len] == '\0' || t[len] == '/')) return 1;
    }
    return 0;
}

int elmo_tensor_names_unused(elmo_tensor_name_fn name_at, const void *ctx, int n,
                             const char *const *used, int n_used) {
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int k = 0; k < n_used && !found; k++) found = strcmp(used[k], name_at(ctx, i)) == 0;
        if (!found) return i;
    }
    return -1;
}
