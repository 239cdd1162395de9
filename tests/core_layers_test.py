"""core_layers_test.py - checks that core/ keeps its layer order (docs/ARCHITECTURE.md).

Every file of core/ belongs to one layer below. A file may include the core headers of
lower layers; within its own layer, only its own header (same name), except in the two open
layers (base, model), whose files build on each other. Within a layer, modules (a .c with
its header; the gemm kernels are one module) must not include each other in a circle. A new
core file must be given a layer here.

    /usr/bin/python3 tests/core_layers_test.py [CORE_DIR]     (from the repo root)

Before checking core/, the checker is run on small made-up trees whose faults it must
report with the exact messages below. Exits non-zero on any failure.
"""
import os
import re
import sys
import tempfile

# (layer, open, files), lowest first.
LAYERS = [
    ("base", True, """error.c error.h bigbuf.c bigbuf.h parallel.c parallel.h fastmath.h
        kernels.c kernels.h gemm.c gemm.h gemm_internal.h gemm_amx.c gemm_avx2.c gemm_avx512.c
        crc32c.c crc32c.h file_read.c file_read.h json_scan.c json_scan.h multiversion.h
        lm_kernels.c lm_kernels.h hash.c hash.h"""),
    ("model", True, """options.c tensor_source.c tensor_source.h hdf5_source.c
        safetensors.h safetensors_source.c safetensors_write.c tf_checkpoint.h tf_index.c
        tf_source.c weights.c model_files.c model_files.h model.h vocab.c vocab.h lm_head.c
        lm_head.h model_head.c model_head.h"""),
    ("parts", False, """char_cnn.c char_cnn.h token_cache.c token_cache.h char_ids.c
        tokenize.c result.c result.h lm_sweep.c lm_sweep.h"""),
    ("stages", False, """token_layer.c token_layer.h bilstm.c bilstm.h mix.c mix.h"""),
    ("top", False, """run.c batch.c model.c lm.c"""),
]

# Files that belong to another file's module (for the cycle check).
MODULE_OF = {"gemm_internal": "gemm", "gemm_amx": "gemm", "gemm_avx2": "gemm", "gemm_avx512": "gemm"}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def layer_table(layers):
    table = {}
    for rank, (name, is_open, files) in enumerate(layers):
        for f in files.split():
            table[f] = (rank, name, is_open)
    return table


def module(f):
    s = os.path.splitext(f)[0]
    return MODULE_OF.get(s, s)


def check(core, layers):
    """Returns (problems, number of core includes checked)."""
    table = layer_table(layers)
    files = sorted(f for f in os.listdir(core) if f.endswith((".c", ".h")))
    problems, checked, graph = [], 0, {}
    for f in files:
        if f not in table:
            problems.append("core/%s has no layer; add it to LAYERS in tests/core_layers_test.py" % f)
    for f in files:
        if f not in table:
            continue
        rank, name, is_open = table[f]
        with open(os.path.join(core, f), encoding="utf-8") as fh:
            text = fh.read()
        for h in INCLUDE.findall(text):
            if not os.path.exists(os.path.join(core, h)) or h not in table:
                continue  # elmo.h and anything outside core/
            checked += 1
            hrank, hname, _ = table[h]
            if hrank == rank:
                graph.setdefault((rank, module(f)), set()).add((rank, module(h)))
            if hrank > rank:
                problems.append("core/%s (%s) includes %s (%s), a higher layer"
                                % (f, name, h, hname))
            elif hrank == rank and not is_open and module(h) != module(f):
                problems.append("core/%s (%s) includes %s of its own layer; only its own "
                                "header is allowed there" % (f, name, h))
    problems += cycles(graph)
    return problems, checked


def cycles(graph):
    """One message per cycle found by a depth-first search over the modules of a layer."""
    found, state, path = [], {}, []

    def visit(n):
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if m == n:
                continue  # a module's .c including its own header
            if state.get(m) == 1:
                loop = path[path.index(m):] + [m]
                found.append("include cycle: " + " -> ".join(mod for _, mod in loop))
            elif m not in state:
                visit(m)
        path.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def check_tree(files, layers):
    """check() on a temporary directory holding `files` (name -> text)."""
    with tempfile.TemporaryDirectory(prefix="core_layers.") as d:
        for name, text in files.items():
            with open(os.path.join(d, name), "w", encoding="utf-8") as fh:
                fh.write(text)
        return check(d, layers)[0]


def self_test():
    """The checker must report each kind of fault with its exact message."""
    layers = [("low", True, "a.c a.h b.c b.h"), ("mid", False, "m.c m.h n.c n.h"),
              ("high", False, "t.c")]
    cases = [
        ({"a.c": '#include "a.h"\n#include "b.h"\n', "a.h": "", "b.c": '#include "b.h"\n',
          "b.h": "", "m.c": '#include "m.h"\n#include "a.h"\n', "m.h": '#include "b.h"\n',
          "t.c": '#include "m.h"\n#include "n.h"\n#include "elmo.h"\n', "n.h": ""},
         []),
        ({"a.c": '#include "m.h"\n', "m.h": ""},
         ["core/a.c (low) includes m.h (mid), a higher layer"]),
        ({"m.c": '#include "n.h"\n', "n.h": ""},
         ["core/m.c (mid) includes n.h of its own layer; only its own header is allowed there"]),
        ({"a.c": '#include "b.h"\n', "b.c": '#include "a.h"\n', "a.h": "", "b.h": ""},
         ["include cycle: a -> b -> a"]),
        ({"x.c": ""},
         ["core/x.c has no layer; add it to LAYERS in tests/core_layers_test.py"]),
    ]
    failed = 0
    for files, want in cases:
        got = check_tree(files, layers)
        if got != want:
            print("core_layers_test: self-test on %s: expected %r, got %r"
                  % (sorted(files), want, got))
            failed += 1
    return len(cases), failed


def main():
    core = sys.argv[1] if len(sys.argv) > 1 else "core"
    n_self, failed = self_test()
    problems, checked = check(core, LAYERS)
    for p in problems:
        print("core_layers_test: " + p)
    failed += len(problems)
    print("core_layers_test: %d self-tests, %d includes of %s checked, %d failed"
          % (n_self, checked, core, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
