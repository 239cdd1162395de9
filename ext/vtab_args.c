/* vtab_args.c - planning the arguments of a table-valued function (series.c style): its
 * arguments are hidden columns constrained with '=', one required and one optional. */
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

int ext_plan_argument_list(sqlite3_vtab *vtab, sqlite3_index_info *info, int first_col, int n_args,
                           int n_required, const char *const *missing) {
    int at[8], seen[8] = {0}, unusable = 0;
    for (int a = 0; a < n_args; a++) at[a] = -1;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        int a = c->iColumn - first_col;
        if (a < 0 || a >= n_args || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
        seen[a] = 1;
        if (!c->usable) unusable = 1;
        else if (at[a] < 0) at[a] = i;
    }
    for (int a = 0; a < n_required; a++)
        if (!seen[a]) {
            sqlite3_free(vtab->zErrMsg);
            vtab->zErrMsg = sqlite3_mprintf("%s", missing[a]);
            return vtab->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
        }
    /* An argument that depends on a table joined later rules this plan out, so SQLite
     * picks a join order that supplies it. */
    if (unusable) return SQLITE_CONSTRAINT;
    int arg = 0;
    info->idxNum = 0;
    for (int a = 0; a < n_args; a++) {
        if (at[a] < 0) continue;
        info->aConstraintUsage[at[a]].argvIndex = ++arg;
        info->aConstraintUsage[at[a]].omit = 1;
        info->idxNum |= EXT_ARG_FIRST << a;
    }
    return SQLITE_OK;
}

int ext_vtab_fail(sqlite3_vtab *vtab, int rc, char *msg) {
    if (msg) ext_message_clean(msg);
    sqlite3_free(vtab->zErrMsg);
    vtab->zErrMsg = msg;
    return msg ? rc : SQLITE_NOMEM;
}

int ext_declare_vtab(sqlite3 *db, const char *schema, char **err) {
    int rc = sqlite3_declare_vtab(db, schema);
    if (rc == SQLITE_OK) return rc;
    /* It fails when an interrupt lands while the statement is prepared: sqlite3_declare_vtab
     * then returns SQLITE_ERROR with the parser's message "interrupted". Report that as
     * an interrupt, as any other statement would, not as "vtable constructor failed". */
    const char *why = sqlite3_errmsg(db);
    *err = sqlite3_mprintf("%s", why);
    return strcmp(why, "interrupted") == 0 ? SQLITE_INTERRUPT : rc;
}
