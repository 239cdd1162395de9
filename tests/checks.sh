# checks.sh - counters shared by the shell tests (sourced, from the repo root):
# `ok` records a passed check, `bad MESSAGE` a failed one (printed to stderr).
checks=0
failures=0
ok() { checks=$((checks + 1)); }
bad() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    echo "FAIL: $*" >&2
}
